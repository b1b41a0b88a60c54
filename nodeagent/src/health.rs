//! The health port: `GET /healthz` answers `ok` while the agent runs, `GET /metrics` serves
//! [`AgentMetrics`] (OpenMetrics text).

use std::net::{Ipv6Addr, SocketAddr};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::metrics::{AgentMetrics, CONTENT_TYPE};

/// Serves `/healthz` and `/metrics` on every address at `port` until `stop` fires.
pub async fn serve(
    port: u16,
    metrics: AgentMetrics,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))).await?;
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
