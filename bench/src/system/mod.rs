//! The two systems under test, each on its own etcd: kube-apiserver serving the kinds as
//! CRDs (the path OpenKruise users take) and Prepull's API server.

mod aggregated;
mod crd_path;
mod prepull;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use bytes::Bytes;
use prepull_testbed::Etcd;

use crate::h2::Connection;

pub use aggregated::Aggregated;
pub use crd_path::CrdPath;
pub use prepull::Prepull;

/// How long a server may take to serve the API after it started.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// What the load generator needs to know about a running server.
#[derive(Debug)]
pub struct Endpoint {
    /// `kube-apiserver + CRDs` or `prepull`.
    pub name: &'static str,
    pub port: u16,
    /// Trusts the server, presents an identity allowed to do everything.
    pub tls: rustls::ClientConfig,
    /// The server process (etcd not included).
    pub pid: u32,
    /// The server's etcd (its CPU is reported separately).
    pub etcd_pid: u32,
}

impl Endpoint {
    /// `n` HTTP/2 connections.
    pub async fn connect(&self, n: usize) -> Result<Vec<Connection>> {
        let mut connections = Vec::with_capacity(n);
        for _ in 0..n {
            connections.push(Connection::open(self.port, &self.tls).await?);
        }
        Ok(connections)
    }
}

/// A system under test; stopped when dropped.
pub trait System: Send {
    fn endpoint(&self) -> &Endpoint;
}

/// Starts an etcd for one system, reporting its pid.
async fn start_etcd() -> Result<(Etcd, u32)> {
    let etcd = Etcd::start().await?;
    let Some(pid) = etcd.pid() else {
        bail!("etcd exited right after starting:\n{}", etcd.logs());
    };
    Ok((etcd, pid))
}

/// Polls `path` on `port` until it answers 200 or [`READY_TIMEOUT`] passes.
async fn wait_until_serving(port: u16, tls: &rustls::ClientConfig, path: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match Connection::open(port, tls).await {
            Ok(connection) => match connection.call("GET", path, None, Bytes::new()).await {
                Ok((200, _)) => return Ok(()),
                Ok((status, body)) => {
                    last = format!("{status} {}", String::from_utf8_lossy(&body));
                }
                Err(err) => last = err.to_string(),
            },
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("GET {path} did not answer 200 within {READY_TIMEOUT:?}: {last}")
}

/// Where the `prepull-apiserver` binary is: `--prepull-apiserver`, else next to this one.
pub fn default_prepull_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("prepull-apiserver")))
        .unwrap_or_else(|| PathBuf::from("prepull-apiserver"))
}
