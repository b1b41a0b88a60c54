//! The server under test: the real binary, standalone on the embedded store in a temp dir.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::client::{Connection, tls_config};

/// How long the server may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Server {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl Server {
    /// Spawns `prepull-apiserver --standalone` and waits until `/readyz` answers 200.
    pub async fn start() -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("prepull-bench-")
            .tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_prepull-apiserver"))
            .args(["--standalone", "--data-dir"])
            .arg(dir.path())
            .args([
                "--secure-port",
                &port.to_string(),
                "--http2-max-streams",
                "4096",
            ])
            .env("PREPULL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning prepull-apiserver")?;
        let server = Server { port, child, dir };
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if server.dir.path().join("pki/admin.crt").exists()
                && let Ok(tls) = tls_config(&server.pki_dir())
                && let Ok(conn) = Connection::open(port, tls).await
                && let Ok((200, _)) = conn.call("GET", "/readyz", None, Bytes::new()).await
            {
                return Ok(server);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the server did not become ready within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    fn status_field(&self, field: &str) -> Result<u64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .with_context(|| format!("{field} in /proc/{pid}/status"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?)
    }

    /// Resident memory now, KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_field("VmRSS:")
    }

    /// Peak resident memory, KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.status_field("VmHWM:")
    }

    /// Stops the server (SIGKILL; the temp dir goes with it).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
