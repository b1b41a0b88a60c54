//! A TCP proxy in front of a registry that passes requests through at once but trickles the
//! answers back at a fixed rate: a slow network link, so a test can watch a pull in progress.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How often the proxy sends the next slice of an answer.
const TICK: Duration = Duration::from_millis(50);

/// Listens on a loopback port and forwards each connection to `upstream`; bytes coming back
/// from upstream are sent on at most `bytes_per_second` (per connection). Stops when dropped.
#[derive(Debug)]
pub struct ThrottledProxy {
    port: u16,
    acceptor: JoinHandle<()>,
}

impl ThrottledProxy {
    /// Binds a free loopback port forwarding to `upstream` (`host:port`). Must be called inside
    /// a tokio runtime.
    pub async fn start(upstream: &str, bytes_per_second: usize) -> std::io::Result<ThrottledProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let upstream = upstream.to_owned();
        let per_tick = (bytes_per_second / (1000 / TICK.as_millis() as usize)).max(1);
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _peer)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, per_tick).await;
                    }
                });
            }
        });
        Ok(ThrottledProxy { port, acceptor })
    }

    /// `127.0.0.1:<port>`, the registry host to use in image references.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ThrottledProxy {
    /// Stops accepting; the connection tasks end with the acceptor's `JoinSet`.
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Copies client -> server as it comes, server -> client `per_tick` bytes per [`TICK`], until
/// either side closes.
async fn relay(client: TcpStream, server: TcpStream, per_tick: usize) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let answers = async {
        let mut buffer = vec![0u8; per_tick];
        let mut ticks = tokio::time::interval(TICK);
        loop {
            ticks.tick().await;
            match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        () = answers => {}
        () = async { requests.await; std::future::pending::<()>().await } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_arrive_whole_but_no_faster_than_the_rate() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
        let address = upstream.local_addr().expect("address").to_string();
        let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let sent = payload.clone();
        tokio::spawn(async move {
            let (mut stream, _) = upstream.accept().await.expect("accepts");
            let mut request = [0u8; 5];
            stream.read_exact(&mut request).await.expect("request");
            stream.write_all(&sent).await.expect("answer");
        });
        let proxy = ThrottledProxy::start(&address, 100_000)
            .await
            .expect("proxy");
        let mut stream = TcpStream::connect(proxy.host_port())
            .await
            .expect("connects");
        let started = tokio::time::Instant::now();
        stream.write_all(b"hello").await.expect("request");
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.expect("answer");
        assert_eq!(received, payload);
        // 40 kB at 100 kB/s: 5 kB per 50 ms tick, 8 ticks.
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
    }
}
