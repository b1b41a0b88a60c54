//! One-shot HTTP/1.0 GETs, plain or over TLS, for readiness probes: no HTTP client stack needed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The status and body of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
}

/// `GET path` on `127.0.0.1:port` over plain HTTP, all within `deadline`.
pub async fn http_get(port: u16, path: &str, deadline: Duration) -> anyhow::Result<HttpAnswer> {
    tokio::time::timeout(deadline, async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        exchange(stream, path).await
    })
    .await
    .with_context(|| format!("GET {path} on port {port} took longer than {deadline:?}"))?
}

/// `GET path` on `127.0.0.1:port` over TLS with `config`, verifying the server certificate for
/// `server_name`, all within `deadline`.
pub async fn https_get(
    port: u16,
    server_name: &str,
    path: &str,
    config: Arc<ClientConfig>,
    deadline: Duration,
) -> anyhow::Result<HttpAnswer> {
    let name = ServerName::try_from(server_name.to_owned()).context("invalid TLS server name")?;
    tokio::time::timeout(deadline, async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        exchange(tls, path).await
    })
    .await
    .with_context(|| format!("GET {path} on port {port} took longer than {deadline:?}"))?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
) -> anyhow::Result<HttpAnswer> {
    // HTTP/1.0 makes the server close the connection after a plain (unchunked) body.
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw).await {
        Ok(_) => {}
        // Some servers close TLS without close_notify; the answer is complete anyway.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(error) => return Err(error.into()),
    }
    parse_answer(&String::from_utf8_lossy(&raw))
}

fn parse_answer(raw: &str) -> anyhow::Result<HttpAnswer> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("incomplete answer: {raw:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    Ok(HttpAnswer {
        status,
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_split_into_status_and_body() {
        let answer = parse_answer(
            "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nnot ready",
        )
        .expect("parses");
        assert_eq!(
            answer,
            HttpAnswer {
                status: 503,
                body: "not ready".into()
            }
        );
    }

    #[test]
    fn a_truncated_answer_is_an_error() {
        assert!(parse_answer("HTTP/1.0 200 OK\r\nContent-").is_err());
    }
}
