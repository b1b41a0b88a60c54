//! A TCP proxy that can be cut: while blackholed it forwards nothing in either direction and
//! closes nothing, so clients see a peer that stops answering (a network partition), not a
//! refused connection. Healing resumes forwarding on the same connections.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listens on a loopback port and forwards each connection to `upstream`. Stops when dropped.
#[derive(Debug)]
pub struct BlackholeProxy {
    port: u16,
    cut: watch::Sender<bool>,
    acceptor: JoinHandle<()>,
}

impl BlackholeProxy {
    /// Binds a free loopback port forwarding to `upstream` (`host:port`), open. Must be called
    /// inside a tokio runtime.
    pub async fn start(upstream: &str) -> std::io::Result<BlackholeProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let upstream = upstream.to_owned();
        let (cut, cut_rx) = watch::channel(false);
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _peer)) = listener.accept().await {
                let upstream = upstream.clone();
                let cut = cut_rx.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            relay(client_read, server_write, cut.clone()),
                            relay(server_read, client_write, cut),
                        );
                    }
                });
            }
        });
        Ok(BlackholeProxy {
            port,
            cut,
            acceptor,
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops forwarding (true) or resumes it (false).
    pub fn set_blackholed(&self, blackholed: bool) {
        self.cut.send_replace(blackholed);
    }
}

impl Drop for BlackholeProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Copies `from` to `to`, holding each chunk while the link is cut.
async fn relay(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if cut.wait_for(|cut| !*cut).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if cut.wait_for(|cut| !*cut).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
