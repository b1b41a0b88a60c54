//! A real kube-controller-manager for a [`KubeApiserver`], running only the controllers a test
//! needs (by default the garbage collector and the namespace controller, so deleting a
//! namespace empties and removes it).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;

use crate::http_probe::https_get;
use crate::kube_apiserver::KubeApiserver;
use crate::kube_binaries::KubeBinaries;
use crate::ports::free_loopback_port;
use crate::service_process::{
    LOG_TAIL_LINES, ServiceProcess, print_log_if_panicking, read_log, read_log_tail,
};
use crate::tls_client::tls_client_config;

/// The controllers [`KubeControllerManager::start`] runs.
pub const DEFAULT_CONTROLLERS: &[&str] = &["garbagecollector", "namespace"];

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// A running kube-controller-manager; killed when dropped (its log is printed then if the test
/// panics).
#[derive(Debug)]
pub struct KubeControllerManager {
    process: ServiceProcess,
    port: u16,
    dir: TempDir,
}

impl KubeControllerManager {
    /// Starts the [`DEFAULT_CONTROLLERS`] against `apiserver` and waits (at most 60 s) until
    /// `/healthz` answers 200.
    pub async fn start(apiserver: &KubeApiserver) -> anyhow::Result<KubeControllerManager> {
        KubeControllerManager::start_with_controllers(apiserver, DEFAULT_CONTROLLERS).await
    }

    /// Starts exactly `controllers` (names as in `--controllers`, e.g. `serviceaccount`).
    pub async fn start_with_controllers(
        apiserver: &KubeApiserver,
        controllers: &[&str],
    ) -> anyhow::Result<KubeControllerManager> {
        let binaries = KubeBinaries::locate().await?;
        let dir = tempfile::Builder::new()
            .prefix("prepull-kube-controller-manager-")
            .tempdir()?;
        let pki = apiserver.pki();
        let serving = pki
            .cluster_ca
            .issue_serving("kube-controller-manager", &["127.0.0.1"])?;
        let serving_files = serving.write(dir.path(), "serving")?;
        let tls = tls_client_config(&[pki.cluster_ca.cert_der()], None)?;
        let log_path = dir.path().join("kube-controller-manager.log");
        let port = free_loopback_port()?;
        let kubeconfig = apiserver.kubeconfig().display().to_string();

        let mut command = Command::new(binaries.kube_controller_manager());
        command
            .arg(format!("--kubeconfig={kubeconfig}"))
            .arg(format!("--authentication-kubeconfig={kubeconfig}"))
            .arg(format!("--authorization-kubeconfig={kubeconfig}"))
            .arg(format!("--controllers={}", controllers.join(",")))
            .arg("--use-service-account-credentials=false")
            .arg(format!(
                "--service-account-private-key-file={}",
                pki.service_account_files.private_key.display()
            ))
            .arg(format!("--root-ca-file={}", pki.cluster_ca_file.display()))
            .arg("--leader-elect=false")
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--tls-cert-file={}", serving_files.cert.display()))
            .arg(format!(
                "--tls-private-key-file={}",
                serving_files.key.display()
            ))
            .arg("--profiling=false");
        let mut process = ServiceProcess::spawn(command, &log_path)?;

        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_problem = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(status) = process.exit_status()? {
                bail!(
                    "kube-controller-manager exited ({status}) before it became healthy; its log:\n{}",
                    read_log_tail(&log_path, LOG_TAIL_LINES)
                );
            }
            match https_get(port, "127.0.0.1", "/healthz", tls.clone(), PROBE_TIMEOUT).await {
                Ok(answer) if answer.status == 200 => {
                    return Ok(KubeControllerManager { process, port, dir });
                }
                Ok(answer) => {
                    last_problem = format!(
                        "/healthz answered {}: {}",
                        answer.status,
                        answer.body.trim()
                    )
                }
                Err(error) => last_problem = format!("{error:#}"),
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        process.kill().await?;
        bail!(
            "kube-controller-manager did not become healthy within {READY_TIMEOUT:?} ({last_problem}); its log:\n{}",
            read_log_tail(&log_path, LOG_TAIL_LINES)
        )
    }

    /// The secure (health) port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The file collecting its output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kube-controller-manager.log")
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.exit_status(), Ok(None))
    }
}

impl Drop for KubeControllerManager {
    fn drop(&mut self) {
        print_log_if_panicking("kube-controller-manager", &self.log_path());
    }
}
