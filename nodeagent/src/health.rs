//! The health endpoint: `GET /healthz` answers `ok` while the agent runs.

use std::net::{Ipv6Addr, SocketAddr};

use axum::Router;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// Serves `/healthz` on every address at `port` until `stop` fires.
pub async fn serve(port: u16, stop: CancellationToken) -> std::io::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))).await?;
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
