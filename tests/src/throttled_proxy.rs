//! A TCP proxy in front of a registry that passes requests through at once but trickles the
//! answers back at a fixed rate: a slow network link, so a test can watch a pull in progress.
//! With [`ThrottledProxy::pause_after`] the link goes silent after a number of bytes (the
//! connections stay open, nothing more arrives) until [`ThrottledProxy::resume`]: a stalled
//! download.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the proxy sends the next slice of an answer.
const TICK: Duration = Duration::from_millis(50);

/// Listens on a loopback port and forwards each connection to `upstream`; bytes coming back
/// from upstream are sent on at most `bytes_per_second` (per connection). Stops when dropped.
#[derive(Debug)]
pub struct ThrottledProxy {
    port: u16,
    acceptor: JoinHandle<()>,
    /// Bytes the answers of all connections may still carry; `None` for no limit.
    budget: Arc<watch::Sender<Option<u64>>>,
}

impl ThrottledProxy {
    /// Binds a free loopback port forwarding to `upstream` (`host:port`). Must be called inside
    /// a tokio runtime.
    pub async fn start(upstream: &str, bytes_per_second: usize) -> std::io::Result<ThrottledProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let upstream = upstream.to_owned();
        let per_tick = (bytes_per_second / (1000 / TICK.as_millis() as usize)).max(1);
        let budget = Arc::new(watch::Sender::new(None));
        let shared = Arc::clone(&budget);
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _peer)) = listener.accept().await {
                let upstream = upstream.clone();
                let budget = Arc::clone(&shared);
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, per_tick, &budget).await;
                    }
                });
            }
        });
        Ok(ThrottledProxy {
            port,
            acceptor,
            budget,
        })
    }

    /// From now on, answers carry `bytes` more in all, then nothing until
    /// [`ThrottledProxy::resume`].
    pub fn pause_after(&self, bytes: u64) {
        self.budget.send_replace(Some(bytes));
    }

    /// Lifts [`ThrottledProxy::pause_after`]: answers flow at the rate again.
    pub fn resume(&self) {
        self.budget.send_replace(None);
    }

    /// Whether the link is silent now (a pause's bytes are used up).
    pub fn is_paused(&self) -> bool {
        *self.budget.borrow() == Some(0)
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

/// Copies client -> server as it comes, server -> client `per_tick` bytes per [`TICK`] while
/// `budget` allows, until either side closes.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    per_tick: usize,
    budget: &watch::Sender<Option<u64>>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let answers = async {
        let mut buffer = vec![0u8; per_tick];
        let mut ticks = tokio::time::interval(TICK);
        let mut budget_changes = budget.subscribe();
        loop {
            ticks.tick().await;
            let allowed = loop {
                match *budget_changes.borrow_and_update() {
                    None => break per_tick,
                    Some(left) if left > 0 => {
                        break usize::try_from(left).map_or(per_tick, |left| left.min(per_tick));
                    }
                    Some(_) => {}
                }
                if budget_changes.changed().await.is_err() {
                    return;
                }
            };
            match server_read.read(&mut buffer[..allowed]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    budget.send_modify(|left| {
                        if let Some(left) = left {
                            *left = left.saturating_sub(n as u64);
                        }
                    });
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

    #[tokio::test]
    async fn a_paused_link_goes_silent_after_its_bytes_and_delivers_the_rest_when_resumed() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
        let address = upstream.local_addr().expect("address").to_string();
        let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let sent = payload.clone();
        tokio::spawn(async move {
            let (mut stream, _) = upstream.accept().await.expect("accepts");
            stream.write_all(&sent).await.expect("answer");
        });
        let proxy = ThrottledProxy::start(&address, 1_000_000)
            .await
            .expect("proxy");
        proxy.pause_after(10_000);
        let mut stream = TcpStream::connect(proxy.host_port())
            .await
            .expect("connects");
        let mut received = vec![0u8; 10_000];
        stream
            .read_exact(&mut received)
            .await
            .expect("the first bytes");
        assert!(proxy.is_paused());
        let mut more = [0u8; 1];
        let silent = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut more)).await;
        assert!(silent.is_err(), "a byte arrived while paused: {silent:?}");
        proxy.resume();
        stream.read_to_end(&mut received).await.expect("the rest");
        assert_eq!(received, payload);
    }
}
