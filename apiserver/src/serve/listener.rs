//! The accept loop, and what bounds a connection: a TLS handshake within 10 s, request
//! headers within [`HEADER_READ_TIMEOUT`] (also the idle limit of an HTTP/1 connection between
//! requests), HTTP/2 keepalive pings, and at most `max_connections` open at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::PeerCertificates;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers, and how long an HTTP/1 connection
/// may sit idle between requests (kube-apiserver's `ReadHeaderTimeout`).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(32);
/// HTTP/2 connections are pinged this often; one that does not answer within
/// [`HTTP2_KEEPALIVE_TIMEOUT`] is closed (a peer that vanished without a FIN).
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct ServingConfig {
    pub addr: SocketAddr,
    pub tls: Arc<rustls::ServerConfig>,
    pub http2_max_streams: u32,
    /// Client connections open at once; one past it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and an HTTP/1 connection may
    /// sit idle between requests ([`HEADER_READ_TIMEOUT`] unless a test shortens it).
    pub header_read_timeout: Duration,
    pub shutdown_timeout: Duration,
}

/// Serves `router` until `shutdown` resolves, then stops accepting, lets open requests finish
/// for up to `shutdown_timeout` and closes the rest.
pub async fn serve(
    config: ServingConfig,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    serve_on(listener, config, router, shutdown).await
}

/// Like [`serve`], on an already bound listener (tests bind port 0).
pub async fn serve_on(
    listener: TcpListener,
    config: ServingConfig,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(config.tls.clone());
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    http.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_streams)
        .keep_alive_interval(HTTP2_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(HTTP2_KEEPALIVE_TIMEOUT);
    let http = Arc::new(http);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    tracing::info!(address = %listener.local_addr()?, "serving");

    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(seat) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = config.max_connections, "too many connections; closing a new one");
            drop(tcp);
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certs = tls
                .get_ref()
                .1
                .peer_certificates()
                .map(|c| c.to_vec())
                .unwrap_or_default();
            let peer_certs = PeerCertificates(Arc::new(certs));
            let service =
                router.map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(peer_certs.clone());
                    request
                });
            let connection =
                http.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
            drop(seat);
        });
    }

    drop(listener);
    tracing::info!("draining connections");
    if tokio::time::timeout(config.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown timeout; closing them");
    }
    Ok(())
}
