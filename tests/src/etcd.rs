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
//!
//! [`Etcd::start_tls`] runs it like a production member: clients over TLS only, with a server
//! certificate and a client certificate (`--client-cert-auth`) from a CA made at run time,
//! whose files [`Etcd::tls`] names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;

use crate::certs::{CertificateAuthority, IssuedCert, PemFiles};
use crate::http_probe::{http_get, https_get};
use crate::ports::free_loopback_port;
use crate::service_process::{ServiceProcess, print_log_if_panicking, read_log};
use crate::tls_client::tls_client_config;

/// Where Debian's `etcd-server` package installs etcd.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";

/// How long etcd may take to answer `/health` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of one `/health` request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a fresh pair of ports is tried when another process took one meanwhile.
const PORT_CLASH_ATTEMPTS: usize = 3;

/// A running etcd member; killed when dropped (its log is printed then if the test panics),
/// its temp dir removed.
#[derive(Debug)]
pub struct Etcd {
    process: Option<ServiceProcess>,
    client_port: u16,
    peer_port: u16,
    tls: Option<EtcdTls>,
    /// `--name`; members of one [`crate::EtcdCluster`] differ.
    pub(crate) name: String,
    /// `--initial-cluster`; `None`: this member alone.
    pub(crate) initial_cluster: Option<String>,
    /// More flags, e.g. `--quota-backend-bytes`.
    extra_args: Vec<String>,
    // Declared last so it is removed after the process was killed.
    dir: TempDir,
}

/// The TLS material of an etcd started with [`Etcd::start_tls`], in its temp dir.
#[derive(Debug)]
pub struct EtcdTls {
    /// The CA that signed etcd's server certificate and the client certificate; etcd trusts
    /// client certificates it signed (`--trusted-ca-file`).
    pub ca: CertificateAuthority,
    /// The CA certificate's file (`--etcd-cafile`).
    pub ca_file: PathBuf,
    /// etcd's server certificate (`--cert-file`/`--key-file`), for `127.0.0.1` and `localhost`
    /// (also a client certificate: etcd's gateway dials etcd with it).
    pub server: PemFiles,
    /// A client certificate etcd accepts (`--etcd-certfile`/`--etcd-keyfile`), CN
    /// [`ETCD_CLIENT_NAME`].
    pub client: PemFiles,
    client_cert: IssuedCert,
}

/// The common name of the client certificate of [`Etcd::start_tls`].
pub const ETCD_CLIENT_NAME: &str = "prepull-apiserver";

impl EtcdTls {
    /// A fresh CA, server and client certificate, written into `dir`.
    fn generate(dir: &Path) -> anyhow::Result<EtcdTls> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca = CertificateAuthority::new("prepull-test-etcd-ca")?;
        let ca_file = dir.join("ca.crt");
        ca.write_cert(&ca_file)?;
        let server = ca
            .issue_serving_and_client("prepull-test-etcd", &["127.0.0.1", "localhost"])?
            .write(dir, "server")?;
        let client_cert = ca.issue_client(ETCD_CLIENT_NAME, &[])?;
        let client = client_cert.write(dir, "client")?;
        Ok(EtcdTls {
            ca,
            ca_file,
            server,
            client,
            client_cert,
        })
    }
}

impl Etcd {
    /// Starts etcd in a fresh temp dir on free loopback client and peer ports and waits (at most
    /// 20 s) until it answers `GET /health`.
    ///
    /// The error says how to install etcd when the binary is missing, and carries etcd's log
    /// when it did not become healthy.
    pub async fn start() -> anyhow::Result<Etcd> {
        Etcd::start_with(false, &[]).await
    }

    /// Like [`Etcd::start`], serving clients only over TLS and only with a client certificate
    /// from [`Etcd::tls`]'s CA (`--client-cert-auth`); [`Etcd::endpoint`] is then
    /// `https://127.0.0.1:<port>`. Peers (one member, loopback) stay plain.
    pub async fn start_tls() -> anyhow::Result<Etcd> {
        Etcd::start_with(true, &[]).await
    }

    /// Like [`Etcd::start`] with a space quota of `bytes` (`--quota-backend-bytes`): once the
    /// database outgrows it, etcd raises its NOSPACE alarm and refuses every write.
    pub async fn start_with_quota(bytes: u64) -> anyhow::Result<Etcd> {
        Etcd::start_with(false, &[format!("--quota-backend-bytes={bytes}")]).await
    }

    async fn start_with(with_tls: bool, extra_args: &[String]) -> anyhow::Result<Etcd> {
        let mut last_error = None;
        for _ in 0..PORT_CLASH_ATTEMPTS {
            let mut etcd = Etcd::unstarted(with_tls)?;
            etcd.extra_args = extra_args.to_vec();
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

    /// A member in a fresh temp dir on free ports, not yet spawned.
    pub(crate) fn unstarted(with_tls: bool) -> anyhow::Result<Etcd> {
        if !Path::new(ETCD_BINARY).is_file() {
            bail!("{ETCD_BINARY} not found: install it with `apt-get install -y etcd-server`");
        }
        let dir = tempfile::Builder::new().prefix("prepull-etcd-").tempdir()?;
        Ok(Etcd {
            process: None,
            client_port: free_loopback_port()?,
            peer_port: free_loopback_port()?,
            tls: if with_tls {
                Some(EtcdTls::generate(&dir.path().join("pki"))?)
            } else {
                None
            },
            name: "prepull-test".to_owned(),
            initial_cluster: None,
            extra_args: Vec::new(),
            dir,
        })
    }

    /// `<name>=<peer url>`, this member's entry in `--initial-cluster`.
    pub(crate) fn peer_entry(&self) -> String {
        format!("{}=http://127.0.0.1:{}", self.name, self.peer_port)
    }

    /// The client URL, `http://127.0.0.1:<port>` (`https://` after [`Etcd::start_tls`]);
    /// stays the same across [`Etcd::start_again`].
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The TLS material when started with [`Etcd::start_tls`].
    pub fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
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
        read_log(&self.log_path())
    }

    /// Whether the process is currently running (it was started and has not exited).
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| matches!(process.exit_status(), Ok(None)))
    }

    /// The process id while etcd runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(ServiceProcess::pid)
    }

    /// Kills etcd (SIGKILL: no graceful shutdown, like a crash) and waits for it to exit.
    /// The data dir and ports are kept for [`Etcd::start_again`]. Does nothing when stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(process) = self.process.take() {
            process.kill().await.context("stopping etcd")?;
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
        self.spawn()?;
        self.wait_until_healthy().await
    }

    /// Spawns the process without waiting: a cluster's members become healthy only together.
    pub(crate) fn spawn(&mut self) -> anyhow::Result<()> {
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let initial_cluster = self
            .initial_cluster
            .clone()
            .unwrap_or_else(|| self.peer_entry());
        let mut command = Command::new(ETCD_BINARY);
        command
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .args(&self.extra_args);
        if let Some(tls) = &self.tls {
            command
                .arg(format!("--cert-file={}", tls.server.cert.display()))
                .arg(format!("--key-file={}", tls.server.key.display()))
                .arg(format!("--trusted-ca-file={}", tls.ca_file.display()))
                .arg("--client-cert-auth");
        }
        self.process = Some(ServiceProcess::spawn(command, &self.log_path())?);
        Ok(())
    }

    pub(crate) async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_problem = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(process) = self.process.as_mut()
                && let Some(status) = process.exit_status()?
            {
                bail!(
                    "etcd exited ({status}) before it became healthy; its log:\n{}",
                    self.logs()
                );
            }
            match probe_health(self.client_port, self.tls.as_ref()).await {
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

impl Drop for Etcd {
    fn drop(&mut self) {
        print_log_if_panicking("etcd", &self.log_path());
    }
}

/// One `GET /health` (over TLS with the client certificate when `tls`); Ok when etcd reports
/// itself healthy.
async fn probe_health(port: u16, tls: Option<&EtcdTls>) -> anyhow::Result<()> {
    let answer = match tls {
        None => http_get(port, "/health", PROBE_TIMEOUT).await?,
        Some(tls) => {
            let config = tls_client_config(&[tls.ca.cert_der()], Some(&tls.client_cert))?;
            https_get(port, "127.0.0.1", "/health", config, PROBE_TIMEOUT).await?
        }
    };
    if answer.status == 200 && answer.body.contains(r#""health":"true""#) {
        Ok(())
    } else {
        bail!("unhealthy answer {}: {}", answer.status, answer.body.trim())
    }
}
