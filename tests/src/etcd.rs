//! A real etcd (Debian's `/usr/bin/etcd`) on loopback ports, in a temp dir of its own.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut etcd = prepull_testbed::Etcd::start().await?;
//! let endpoint = etcd.endpoint(); // "http://127.0.0.1:<port>"
//! etcd.stop().await?;             // "etcd is down" from here on
//! etcd.start_again().await?;      // same data dir and ports: durability tests
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::ports::free_loopback_port;

/// Where Debian's `etcd-server` package installs etcd.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";

/// How long etcd may take to answer `/health` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of one `/health` request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a fresh pair of ports is tried when another process took one meanwhile.
const PORT_CLASH_ATTEMPTS: usize = 3;

/// A running etcd member; killed when dropped, its temp dir then removed.
#[derive(Debug)]
pub struct Etcd {
    child: Option<Child>,
    client_port: u16,
    peer_port: u16,
    // Declared last so it is removed after the process was killed.
    dir: TempDir,
}

impl Etcd {
    /// Starts etcd in a fresh temp dir on free loopback client and peer ports and waits (at most
    /// 20 s) until it answers `GET /health`.
    ///
    /// The error says how to install etcd when the binary is missing, and carries etcd's log
    /// when it did not become healthy.
    pub async fn start() -> anyhow::Result<Etcd> {
        if !Path::new(ETCD_BINARY).is_file() {
            bail!("{ETCD_BINARY} not found: install it with `apt-get install -y etcd-server`");
        }
        let mut last_error = None;
        for _ in 0..PORT_CLASH_ATTEMPTS {
            let mut etcd = Etcd {
                child: None,
                client_port: free_loopback_port()?,
                peer_port: free_loopback_port()?,
                dir: tempfile::Builder::new().prefix("prepull-etcd-").tempdir()?,
            };
            match etcd.spawn_and_wait().await {
                Ok(()) => return Ok(etcd),
                Err(error) if etcd.logs().contains("address already in use") => {
                    last_error = Some(error)
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt ran")).context("etcd kept hitting taken ports")
    }

    /// The client URL, `http://127.0.0.1:<port>`; stays the same across [`Etcd::start_again`].
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The client port alone.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// etcd's `--data-dir`; survives [`Etcd::stop`], removed on drop.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file collecting etcd's stdout and stderr over all its runs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Everything etcd logged so far (empty when nothing could be read).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the process is currently running (it was started and has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills etcd (SIGKILL: no graceful shutdown, like a crash) and waits for it to exit.
    /// The data dir and ports are kept for [`Etcd::start_again`]. Does nothing when stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            // kill() fails only when the process already exited; wait() below reaps it either way.
            let _ = child.start_kill();
            child.wait().await.context("waiting for etcd to exit")?;
        }
        Ok(())
    }

    /// Starts etcd again on the same data dir and ports and waits until it is healthy.
    /// Stops the running process first, if any.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        // The kernel may still hold the ports briefly; a clash then shows up in the log.
        let mut last_error = None;
        for _ in 0..PORT_CLASH_ATTEMPTS {
            match self.spawn_and_wait().await {
                Ok(()) => return Ok(()),
                Err(error) => last_error = Some(error),
            }
            self.stop().await?;
        }
        Err(last_error.expect("at least one attempt ran"))
    }

    async fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening etcd's log file")?;
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(ETCD_BINARY)
            .arg("--name=prepull-test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=prepull-test={peer_url}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {ETCD_BINARY}"))?;
        self.child = Some(child);
        self.wait_until_healthy().await
    }

    async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_problem = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "etcd exited ({status}) before it became healthy; its log:\n{}",
                    self.logs()
                );
            }
            match probe_health(self.client_port).await {
                Ok(()) => return Ok(()),
                Err(problem) => last_problem = format!("{problem:#}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop().await?;
        bail!(
            "etcd did not become healthy within {READY_TIMEOUT:?} ({last_problem}); its log:\n{}",
            self.logs()
        )
    }
}

/// One `GET /health` over plain HTTP/1.0; Ok when etcd reports itself healthy.
async fn probe_health(port: u16) -> anyhow::Result<()> {
    let response = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(String::from_utf8_lossy(&response).into_owned())
    })
    .await
    .context("GET /health timed out")??;
    let status_ok = response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200");
    if status_ok && response.contains(r#""health":"true""#) {
        Ok(())
    } else {
        bail!(
            "unhealthy answer: {}",
            response.lines().last().unwrap_or_default()
        )
    }
}
