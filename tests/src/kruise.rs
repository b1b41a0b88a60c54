//! OpenKruise v1.9 itself on a test [`KubeApiserver`]: its CRDs, `kruise-manager` (the
//! ImagePullJob / ImageListPullJob / NodeImage controllers and its webhooks, with its own
//! certificates) and one `kruise-daemon` per node pulling through that node's [`Containerd`],
//! on Node objects the harness creates. The binaries, CRDs and webhook configurations come from
//! `tests/kruise/build.sh` (built from source once, cached outside the repository).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use prepull_testbed::{Containerd, Etcd, KubeApiserver, Kruise, create_ready_node};
//! let etcd = Etcd::start().await?;
//! let apiserver = KubeApiserver::start(&etcd).await?;
//! let kruise = Kruise::start(&apiserver).await?;
//! create_ready_node(&apiserver.kubectl(), "node-a", &[("zone", "a")]).await?;
//! let containerd = Containerd::start(&[]).await?;
//! let daemon = kruise.start_daemon(&apiserver, "node-a", &containerd).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;

use crate::containerd::Containerd;
use crate::eventually::eventually;
use crate::http_probe::http_get;
use crate::kube_apiserver::KubeApiserver;
use crate::kubectl::Kubectl;
use crate::ports::free_loopback_port;
use crate::service_process::{
    LOG_TAIL_LINES, ServiceProcess, print_log_if_panicking, read_log, read_log_tail,
};

/// The script building (once) and caching OpenKruise; it owns the pinned version.
pub const KRUISE_BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kruise/build.sh");

/// Names a directory laid out as the build script's cache, overriding it.
pub const KRUISE_DIR_ENV: &str = "PREPULL_KRUISE_DIR";

/// kruise-daemon only looks for the CRI socket in this directory (a hostPath mount in
/// OpenKruise's DaemonSet); the harness links each node's containerd socket into it.
const DAEMON_SOCKET_DIR: &str = "/hostvarrun";

/// The manager starts a dozen controllers and waits for its webhook to be registered.
const MANAGER_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The daemon answers `/healthz` once it has connected to the CRI and the API server.
const DAEMON_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The manager creates a node's NodeImage once the Node has been Ready for 30 s; the harness
/// backdates `lastTransitionTime`, so this only bounds the controller's queue.
const NODE_IMAGE_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// The cache lookup only checks a few files; the bound guards against a hung shell.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The build script's output: `kruise-manager`, `kruise-daemon`, `crds/` and `webhooks.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KruiseBuild {
    dir: PathBuf,
}

impl KruiseBuild {
    /// `$PREPULL_KRUISE_DIR` when set, else the build script's cache (`build.sh
    /// --cached-only`). Never builds (a cold build takes minutes): a missing file is an error
    /// naming the command to run.
    pub async fn locate() -> anyhow::Result<KruiseBuild> {
        let dir = match std::env::var_os(KRUISE_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => cached_dir().await?,
        };
        let build = KruiseBuild { dir };
        for path in [
            build.manager(),
            build.daemon(),
            build.crds_dir(),
            build.webhooks(),
        ] {
            if !path.exists() {
                bail!(
                    "{} is missing: build OpenKruise with `{KRUISE_BUILD_SCRIPT}` (cold: ~4 min) \
                     or point {KRUISE_DIR_ENV} at a directory it built",
                    path.display()
                );
            }
        }
        Ok(build)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/kruise-manager`.
    pub fn manager(&self) -> PathBuf {
        self.dir.join("kruise-manager")
    }

    /// `<dir>/kruise-daemon`.
    pub fn daemon(&self) -> PathBuf {
        self.dir.join("kruise-daemon")
    }

    /// `<dir>/crds`: Kruise's `config/crd/bases`.
    pub fn crds_dir(&self) -> PathBuf {
        self.dir.join("crds")
    }

    /// `<dir>/webhooks.yaml`: `config/webhook` rendered, named as `config/default` names them.
    pub fn webhooks(&self) -> PathBuf {
        self.dir.join("webhooks.yaml")
    }
}

async fn cached_dir() -> anyhow::Result<PathBuf> {
    let output = tokio::time::timeout(
        LOOKUP_TIMEOUT,
        Command::new("bash")
            .arg(KRUISE_BUILD_SCRIPT)
            .arg("--cached-only")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the build script's cache lookup hung")?
    .with_context(|| format!("running {KRUISE_BUILD_SCRIPT}"))?;
    if !output.status.success() {
        bail!(
            "OpenKruise is not built: run `{KRUISE_BUILD_SCRIPT}` first (cold build: ~4 min; \
             later runs reuse the cache), or set {KRUISE_DIR_ENV}.\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .last()
        .context("the build script printed no directory")?;
    Ok(PathBuf::from(dir.trim()))
}

/// Creates Node `name` with exactly `labels` (no `kubernetes.io/hostname` either, so a
/// comparison with a system whose nodes carry only those labels stays fair) as a plain API
/// object, and marks it Ready since long ago (no kubelet; nothing flips it back without a node
/// lifecycle controller).
pub async fn create_ready_node(
    kubectl: &Kubectl,
    name: &str,
    labels: &[(&str, &str)],
) -> anyhow::Result<()> {
    let mut label_map = serde_json::Map::new();
    for (key, value) in labels {
        label_map.insert((*key).to_owned(), serde_json::Value::from(*value));
    }
    let node = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": label_map},
    });
    kubectl
        .run_with_stdin(&["create", "-f", "-"], Some(&node.to_string()))
        .await?;
    let long_ago = "2020-01-01T00:00:00Z";
    let status = serde_json::json!({"status": {"conditions": [{
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "created Ready by the test harness",
        "lastHeartbeatTime": long_ago,
        "lastTransitionTime": long_ago,
    }]}});
    kubectl
        .run(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ])
        .await?;
    Ok(())
}

/// A running kruise-manager with Kruise's CRDs and webhook configurations applied; killed when
/// dropped (its log is printed then if the test panics).
#[derive(Debug)]
pub struct Kruise {
    build: KruiseBuild,
    process: ServiceProcess,
    webhook_port: u16,
    dir: TempDir,
}

impl Kruise {
    /// Applies the CRDs (waiting until established), creates `kruise-system` and
    /// `kruise-daemon-config`, applies the webhook configurations, starts kruise-manager with
    /// `ImagePullJobGate=true` serving its webhook on a loopback port with a certificate it
    /// makes itself, and waits (at most 120 s) until its `/readyz` (which includes the
    /// webhook) answers 200 and the ImagePullJob webhook admits a dry-run create.
    pub async fn start(apiserver: &KubeApiserver) -> anyhow::Result<Kruise> {
        let build = KruiseBuild::locate().await?;
        let kubectl = apiserver.kubectl();
        let crds = build.crds_dir().display().to_string();
        kubectl
            .run(&["apply", "--server-side", "-f", &crds])
            .await
            .context("applying Kruise's CRDs")?;
        kubectl
            .run(&[
                "wait",
                "--for=condition=Established",
                "crd",
                "--all",
                "--timeout=60s",
            ])
            .await?;
        for namespace in ["kruise-system", "kruise-daemon-config"] {
            kubectl.run(&["create", "namespace", namespace]).await?;
        }
        let webhooks = build.webhooks().display().to_string();
        kubectl
            .run(&["apply", "--server-side", "-f", &webhooks])
            .await
            .context("applying Kruise's webhook configurations")?;

        let dir = tempfile::Builder::new()
            .prefix("prepull-kruise-manager-")
            .tempdir()?;
        let cert_dir = dir.path().join("webhook-certs");
        std::fs::create_dir(&cert_dir)?;
        let log_path = dir.path().join("kruise-manager.log");
        let webhook_port = free_loopback_port()?;
        let health_port = free_loopback_port()?;
        let metrics_port = free_loopback_port()?;
        let mut command = Command::new(build.manager());
        command
            .env("KUBECONFIG", apiserver.kubeconfig())
            .env("POD_NAMESPACE", "kruise-system")
            .env("WEBHOOK_HOST", "127.0.0.1")
            .env("WEBHOOK_PORT", webhook_port.to_string())
            .env("WEBHOOK_CERT_DIR", &cert_dir)
            .arg("--enable-leader-election=false")
            .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
            .arg(format!("--health-probe-addr=127.0.0.1:{health_port}"))
            .arg("--enable-pprof=false")
            .arg("--feature-gates=ImagePullJobGate=true");
        let mut process = ServiceProcess::spawn(command, &log_path)?;
        if let Err(error) =
            wait_for_health(&mut process, health_port, "/readyz", MANAGER_READY_TIMEOUT).await
        {
            process.kill().await?;
            bail!(
                "kruise-manager did not become ready: {error:#}; its log:\n{}",
                read_log_tail(&log_path, LOG_TAIL_LINES)
            );
        }
        // `/readyz` checks that the webhook server serves; the API server must also have the
        // rewritten webhook configuration (URL and CA) before objects can be created.
        let probe = serde_json::json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "harness-webhook-probe", "namespace": "default"},
            "spec": {"image": "example.invalid/probe:v1"},
        })
        .to_string();
        let admitted = eventually(
            "the Kruise webhook admits a dry-run ImagePullJob",
            MANAGER_READY_TIMEOUT,
            || {
                let kubectl = kubectl.clone();
                let probe = probe.clone();
                async move {
                    kubectl
                        .run_with_stdin(
                            &["create", "--dry-run=server", "-f", "-", "-o", "name"],
                            Some(&probe),
                        )
                        .await
                }
            },
        )
        .await;
        if let Err(error) = admitted {
            process.kill().await?;
            bail!(
                "{error:#}; kruise-manager's log:\n{}",
                read_log_tail(&log_path, LOG_TAIL_LINES)
            );
        }
        Ok(Kruise {
            build,
            process,
            webhook_port,
            dir,
        })
    }

    /// Starts a kruise-daemon for node `node` (a Node object that exists and is Ready) pulling
    /// through `containerd`, waits until its `/healthz` answers and the manager has created the
    /// node's NodeImage.
    pub async fn start_daemon(
        &self,
        apiserver: &KubeApiserver,
        node: &str,
        containerd: &Containerd,
    ) -> anyhow::Result<KruiseDaemon> {
        let dir = tempfile::Builder::new()
            .prefix("prepull-kruise-daemon-")
            .tempdir()?;
        std::fs::create_dir_all(DAEMON_SOCKET_DIR).with_context(|| {
            format!("creating {DAEMON_SOCKET_DIR} (kruise-daemon's fixed CRI socket directory)")
        })?;
        // Unique per daemon: several tests and nodes may run at once.
        let socket_name = format!(
            "prepull-{}-{}.sock",
            std::process::id(),
            dir.path()
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let socket_link = Path::new(DAEMON_SOCKET_DIR).join(&socket_name);
        std::os::unix::fs::symlink(containerd.socket_path(), &socket_link)
            .with_context(|| format!("linking {}", socket_link.display()))?;
        let link = SocketLink(socket_link);
        let log_path = dir.path().join("kruise-daemon.log");
        let port = free_loopback_port()?;
        let mut command = Command::new(self.build.daemon());
        command
            .env("KUBECONFIG", apiserver.kubeconfig())
            .env("NODE_NAME", node)
            .arg(format!("--addr=127.0.0.1:{port}"))
            .arg("--enable-pprof=false")
            .arg(format!("--socket-file={socket_name}"))
            .arg("--feature-gates=ImagePullJobGate=true");
        let mut process = ServiceProcess::spawn(command, &log_path)?;
        if let Err(error) =
            wait_for_health(&mut process, port, "/healthz", DAEMON_READY_TIMEOUT).await
        {
            process.kill().await?;
            bail!(
                "kruise-daemon {node} did not become healthy: {error:#}; its log:\n{}",
                read_log_tail(&log_path, LOG_TAIL_LINES)
            );
        }
        let kubectl = apiserver.kubectl();
        let created = eventually(
            "kruise-manager creates the node's NodeImage",
            NODE_IMAGE_TIMEOUT,
            || {
                let kubectl = kubectl.clone();
                async move { kubectl.run(&["get", "nodeimage", node, "-o", "name"]).await }
            },
        )
        .await;
        if let Err(error) = created {
            process.kill().await?;
            bail!(
                "{error:#}; kruise-manager's log:\n{}",
                read_log_tail(&self.log_path(), LOG_TAIL_LINES)
            );
        }
        Ok(KruiseDaemon {
            node: node.to_owned(),
            process,
            _link: link,
            dir,
        })
    }

    /// The port kruise-manager serves its webhook on (over TLS, on 127.0.0.1).
    pub fn webhook_port(&self) -> u16 {
        self.webhook_port
    }

    /// The process id (for reading its CPU time and memory from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The file collecting kruise-manager's output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kruise-manager.log")
    }

    /// Everything kruise-manager logged so far.
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.exit_status(), Ok(None))
    }
}

impl Drop for Kruise {
    fn drop(&mut self) {
        print_log_if_panicking("kruise-manager", &self.log_path());
    }
}

/// A running kruise-daemon for one node; killed when dropped, its socket link removed.
#[derive(Debug)]
pub struct KruiseDaemon {
    node: String,
    process: ServiceProcess,
    _link: SocketLink,
    dir: TempDir,
}

impl KruiseDaemon {
    /// The node it serves.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The file collecting its output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kruise-daemon.log")
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

impl Drop for KruiseDaemon {
    fn drop(&mut self) {
        print_log_if_panicking(&format!("kruise-daemon {}", self.node), &self.log_path());
    }
}

/// A symlink in [`DAEMON_SOCKET_DIR`], removed when dropped.
#[derive(Debug)]
struct SocketLink(PathBuf);

impl Drop for SocketLink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls `GET path` on `127.0.0.1:port` until it answers 200, the process exits, or `timeout`.
async fn wait_for_health(
    process: &mut ServiceProcess,
    port: u16,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_problem = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Some(status) = process.exit_status()? {
            bail!("it exited ({status})");
        }
        match http_get(port, path, PROBE_TIMEOUT).await {
            Ok(answer) if answer.status == 200 => return Ok(()),
            Ok(answer) => {
                last_problem = format!("{path} answered {}: {}", answer.status, answer.body.trim())
            }
            Err(error) => last_problem = format!("{error:#}"),
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    bail!("no 200 from {path} within {timeout:?} ({last_problem})")
}
