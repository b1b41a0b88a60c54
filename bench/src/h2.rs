//! The load generator's client: HTTP/2 over rustls with a client certificate, many requests
//! multiplexed on each connection (as kube-apiserver's aggregator and client-go do).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Deadline of one non-watch request (big lists of the CRD path take seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Deadline of opening a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One HTTP/2 connection to a server on loopback.
#[derive(Clone, Debug)]
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Connects to `127.0.0.1:port` with `tls` (whose ALPN is set to `h2` here), checking the
    /// server's certificate for `localhost`.
    pub async fn open(port: u16, tls: &rustls::ClientConfig) -> Result<Connection> {
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
            .await
            .context("connect timed out")??;
        tcp.set_nodelay(true)?;
        let tls = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TlsConnector::from(Arc::new(tls)).connect(ServerName::try_from("localhost")?, tcp),
        )
        .await
        .context("TLS handshake timed out")??;
        let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(64 << 20)
            .max_concurrent_reset_streams(4096);
        let (sender, connection) = builder.handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection { sender })
    }

    /// Sends a request and returns the status and whole body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Bytes)> {
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self.start(method, path, content_type, body).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        })
        .await
        .with_context(|| format!("{method} {path} timed out"))?
    }

    /// Like [`Connection::call`], failing unless the status is 2xx.
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Bytes> {
        let (status, body) = self.call(method, path, content_type, body).await?;
        if !(200..300).contains(&status) {
            bail!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(2000)])
            );
        }
        Ok(body)
    }

    /// Sends a request and returns the response with its body still streaming (watches).
    pub async fn start(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<hyper::Response<Incoming>> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"))
            .header("accept", "application/json");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(body))?;
        let mut sender = self.sender.clone();
        sender.ready().await?;
        Ok(sender.send_request(request).await?)
    }
}
