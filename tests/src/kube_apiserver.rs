//! A real kube-apiserver on a loopback port, backed by an [`Etcd`], with generated certificates
//! and the request-header (front-proxy) setup aggregated API servers rely on.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use prepull_testbed::{Etcd, KubeApiserver};
//! let etcd = Etcd::start().await?;
//! let apiserver = KubeApiserver::start(&etcd).await?;
//! apiserver.kubectl().run(&["get", "namespaces"]).await?;
//! let front_proxy_ca = &apiserver.pki().front_proxy_ca_file; // for our server's flags
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::ClientConfig;
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;

use crate::etcd::Etcd;
use crate::http_probe::{HttpAnswer, https_get};
use crate::kube_binaries::KubeBinaries;
use crate::kube_pki::{FRONT_PROXY_CLIENT_NAME, KubePki};
use crate::kubeconfig::write_kubeconfig;
use crate::kubectl::Kubectl;
use crate::ports::free_loopback_port;
use crate::service_process::{
    LOG_TAIL_LINES, ServiceProcess, print_log_if_panicking, read_log, read_log_tail,
};
use crate::tls_client::tls_client_config;

/// The `iss` of service-account tokens and `--service-account-issuer`.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// kube-apiserver needs several seconds of CPU to start; the machine's cores are shared.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline of one `/readyz` request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// How often a fresh port is tried when another process took the chosen one meanwhile.
const PORT_CLASH_ATTEMPTS: usize = 3;

/// A running kube-apiserver; killed when dropped (its log is printed then if the test panics),
/// its temp dir (certificates, kubeconfig, log) removed.
#[derive(Debug)]
pub struct KubeApiserver {
    process: ServiceProcess,
    port: u16,
    pki: KubePki,
    kubeconfig: PathBuf,
    admin_tls: Arc<ClientConfig>,
    dir: TempDir,
}

impl KubeApiserver {
    /// Starts kube-apiserver against `etcd` and waits (at most 120 s) until `/readyz` answers
    /// 200. The binary comes from [`KubeBinaries::locate`].
    pub async fn start(etcd: &Etcd) -> anyhow::Result<KubeApiserver> {
        KubeApiserver::start_with_args(etcd, &[]).await
    }

    /// Like [`KubeApiserver::start`], appending `extra_args` (e.g. `--feature-gates=...`) to
    /// the harness's flags; a later flag overrides an earlier one.
    pub async fn start_with_args(
        etcd: &Etcd,
        extra_args: &[&str],
    ) -> anyhow::Result<KubeApiserver> {
        let binaries = KubeBinaries::locate().await?;
        let dir = tempfile::Builder::new()
            .prefix("prepull-kube-apiserver-")
            .tempdir()?;
        let pki_dir = dir.path().join("pki");
        std::fs::create_dir(&pki_dir)?;
        let pki = KubePki::generate(&pki_dir)?;
        let admin_tls = tls_client_config(&[pki.cluster_ca.cert_der()], Some(&pki.admin))?;
        let log_path = dir.path().join("kube-apiserver.log");

        let mut last_error = None;
        for _ in 0..PORT_CLASH_ATTEMPTS {
            let port = free_loopback_port()?;
            let command = apiserver_command(&binaries, etcd, &pki, dir.path(), port, extra_args);
            let mut process = ServiceProcess::spawn(command, &log_path)?;
            match wait_until_ready(&mut process, port, &admin_tls, &log_path).await {
                Ok(()) => {
                    let kubeconfig = dir.path().join("admin.kubeconfig");
                    let url = format!("https://127.0.0.1:{port}");
                    write_kubeconfig(&kubeconfig, &url, &pki.cluster_ca_file, &pki.admin_files)?;
                    return Ok(KubeApiserver {
                        process,
                        port,
                        pki,
                        kubeconfig,
                        admin_tls,
                        dir,
                    });
                }
                Err(error) => {
                    process.kill().await?;
                    if !read_log(&log_path).contains("address already in use") {
                        return Err(error);
                    }
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.expect("at least one attempt ran"))
            .context("kube-apiserver kept hitting taken ports")
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The secure port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A kubeconfig for the admin user (group `system:masters`, so RBAC allows everything).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The machine's kubectl using the admin kubeconfig.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(&self.kubeconfig)
    }

    /// The certificates and keys this server runs with: cluster CA, front-proxy CA and the
    /// proxy client certificate, service-account keys, the admin client certificate.
    pub fn pki(&self) -> &KubePki {
        &self.pki
    }

    /// A rustls configuration trusting the cluster CA and presenting the admin certificate.
    pub fn admin_tls_config(&self) -> Arc<ClientConfig> {
        self.admin_tls.clone()
    }

    /// Writes a kubeconfig for `user` in at most one `group` (a fresh client certificate signed
    /// by the cluster CA) into this server's temp dir and returns its path. For RBAC tests.
    pub fn write_user_kubeconfig(&self, user: &str, groups: &[&str]) -> anyhow::Result<PathBuf> {
        let cert = self.pki.cluster_ca.issue_client(user, groups)?;
        let stem = format!(
            "user-{}",
            user.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let files = cert.write(&self.pki.dir, &stem)?;
        let path = self.dir.path().join(format!("{stem}.kubeconfig"));
        write_kubeconfig(&path, &self.url(), &self.pki.cluster_ca_file, &files)?;
        Ok(path)
    }

    /// `GET path` as the admin user, with a 10 s deadline.
    pub async fn get_as_admin(&self, path: &str) -> anyhow::Result<HttpAnswer> {
        https_get(
            self.port,
            "127.0.0.1",
            path,
            self.admin_tls.clone(),
            Duration::from_secs(10),
        )
        .await
    }

    /// The file collecting kube-apiserver's output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kube-apiserver.log")
    }

    /// Everything kube-apiserver logged so far.
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.exit_status(), Ok(None))
    }

    /// The process id (for reading its CPU time and memory from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

impl Drop for KubeApiserver {
    fn drop(&mut self) {
        print_log_if_panicking("kube-apiserver", &self.log_path());
    }
}

fn apiserver_command(
    binaries: &KubeBinaries,
    etcd: &Etcd,
    pki: &KubePki,
    dir: &Path,
    port: u16,
    extra_args: &[&str],
) -> Command {
    let path = |p: &Path| p.display().to_string();
    let mut command = Command::new(binaries.kube_apiserver());
    command
        .arg(format!("--etcd-servers={}", etcd.endpoint()))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!("--cert-dir={}", path(&dir.join("cert-dir"))))
        .arg(format!(
            "--tls-cert-file={}",
            path(&pki.apiserver_serving_files.cert)
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            path(&pki.apiserver_serving_files.key)
        ))
        .arg(format!("--client-ca-file={}", path(&pki.cluster_ca_file)))
        .arg(format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"))
        .arg(format!(
            "--service-account-signing-key-file={}",
            path(&pki.service_account_files.private_key)
        ))
        .arg(format!(
            "--service-account-key-file={}",
            path(&pki.service_account_files.public_key)
        ))
        .arg("--service-cluster-ip-range=10.0.0.0/24")
        .arg("--authorization-mode=RBAC")
        .arg(format!(
            "--requestheader-client-ca-file={}",
            path(&pki.front_proxy_ca_file)
        ))
        .arg(format!(
            "--requestheader-allowed-names={FRONT_PROXY_CLIENT_NAME}"
        ))
        .arg("--requestheader-username-headers=X-Remote-User")
        .arg("--requestheader-group-headers=X-Remote-Group")
        .arg("--requestheader-extra-headers-prefix=X-Remote-Extra-")
        .arg(format!(
            "--proxy-client-cert-file={}",
            path(&pki.front_proxy_client_files.cert)
        ))
        .arg(format!(
            "--proxy-client-key-file={}",
            path(&pki.front_proxy_client_files.key)
        ))
        // Endpoints with a loopback address fail validation; the `kubernetes` Service is not
        // needed by tests that talk to 127.0.0.1 directly.
        .arg("--endpoint-reconciler-type=none")
        .arg("--profiling=false")
        .args(extra_args);
    command
}

async fn wait_until_ready(
    process: &mut ServiceProcess,
    port: u16,
    tls: &Arc<ClientConfig>,
    log_path: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last_problem = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Some(status) = process.exit_status()? {
            bail!(
                "kube-apiserver exited ({status}) before it became ready; its log:\n{}",
                read_log_tail(log_path, LOG_TAIL_LINES)
            );
        }
        match https_get(port, "127.0.0.1", "/readyz", tls.clone(), PROBE_TIMEOUT).await {
            Ok(answer) if answer.status == 200 => return Ok(()),
            Ok(answer) => {
                last_problem = format!("/readyz answered {}: {}", answer.status, answer.body.trim())
            }
            Err(error) => last_problem = format!("{error:#}"),
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    bail!(
        "kube-apiserver did not become ready within {READY_TIMEOUT:?} ({last_problem}); its log:\n{}",
        read_log_tail(log_path, LOG_TAIL_LINES)
    )
}
