//! A "registry" that accepts TCP connections and never answers: the stuck-network case that
//! only a client-side deadline ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Listens on a loopback port, accepts every connection, reads nothing and writes nothing, and
/// keeps the connections open until dropped.
#[derive(Debug)]
pub struct HangingRegistry {
    port: u16,
    accepted: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl HangingRegistry {
    /// Binds a free loopback port and starts accepting. Must be called inside a tokio runtime.
    pub async fn start() -> std::io::Result<HangingRegistry> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let acceptor = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _peer)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Ok(HangingRegistry {
            port,
            accepted,
            acceptor,
        })
    }

    /// `127.0.0.1:<port>`, the registry host for image references and containerd's config.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections were accepted so far (each pull attempt opens at least one).
    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HangingRegistry {
    /// Stops accepting and closes every held connection.
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    #[tokio::test]
    async fn a_request_gets_no_answer_while_the_connection_stays_open() {
        let registry = HangingRegistry::start().await.expect("binds");
        let mut stream = TcpStream::connect(registry.host_port())
            .await
            .expect("accepts");
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("request written");
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await;
        assert!(read.is_err(), "expected no answer, got {read:?}");
        assert_eq!(registry.connections_accepted(), 1);
    }

    #[tokio::test]
    async fn dropping_it_closes_held_connections() {
        let registry = HangingRegistry::start().await.expect("binds");
        let mut stream = TcpStream::connect(registry.host_port())
            .await
            .expect("accepts");
        crate::eventually(
            "the connection to be accepted",
            Duration::from_secs(5),
            || async {
                match registry.connections_accepted() {
                    1 => Ok(()),
                    n => Err(format!("{n} accepted")),
                }
            },
        )
        .await
        .expect("accepted");
        drop(registry);
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("the close arrives");
        assert_eq!(read.expect("clean close"), 0, "end of stream");
    }
}
