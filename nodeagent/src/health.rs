//! The health port: `GET /healthz` answers `ok` while the agent runs, `GET /metrics` serves
//! [`AgentMetrics`] (OpenMetrics text).

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::{AgentMetrics, CONTENT_TYPE};

/// Serves `/healthz` and `/metrics` at `address` until `stop` fires.
pub async fn serve(
    address: SocketAddr,
    metrics: AgentMetrics,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let text = metrics.encode();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], text) }
            }),
        );
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn healthz(address: SocketAddr) -> anyhow::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    /// Two agents on one host: the same port on two loopback addresses.
    #[tokio::test]
    async fn two_endpoints_share_a_port_on_two_addresses() {
        let port = prepull_testbed::free_loopback_port().unwrap();
        let stop = CancellationToken::new();
        let addresses: Vec<SocketAddr> = ["127.0.0.1", "127.0.0.2"]
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
            .collect();
        let servers: Vec<_> = addresses
            .iter()
            .map(|&address| tokio::spawn(serve(address, AgentMetrics::new(), stop.clone())))
            .collect();
        for &address in &addresses {
            let answer = prepull_testbed::eventually(
                "the health endpoint answers",
                Duration::from_secs(10),
                || healthz(address),
            )
            .await
            .unwrap();
            assert!(
                answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
                "{answer}"
            );
        }
        stop.cancel();
        for server in servers {
            server.await.unwrap().expect("each bound its own address");
        }
    }
}
