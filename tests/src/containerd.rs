//! A real containerd (Debian's `/usr/bin/containerd`, 1.6) with its CRI plugin, private to one
//! test: own root, state and socket in a temp dir, no cgroups, the `native` snapshotter (no
//! overlay mounts), and plain-HTTP access to the loopback registries the test names. Several
//! can run side by side, one per simulated node.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use prepull_testbed::{Containerd, Registry, RegistryOptions};
//!
//! let registry = Registry::start(RegistryOptions::default()).await?;
//! let containerd = Containerd::start(&[registry.host_port()]).await?;
//! let endpoint = containerd.endpoint(); // "unix:///tmp/prepull-containerd-.../containerd.sock"
//! let mut images = containerd.image_client().await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use prepull_cri::runtime::v1::VersionRequest;
use prepull_cri::runtime::v1::image_service_client::ImageServiceClient;
use prepull_cri::runtime::v1::runtime_service_client::RuntimeServiceClient;
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::service_process::{ServiceProcess, print_log_if_panicking, read_log};

/// Where Debian's `containerd` package installs containerd.
pub const CONTAINERD_BINARY: &str = "/usr/bin/containerd";

/// How long containerd may take to answer CRI `Version` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of one readiness probe (connect, then `Version`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline for opening a channel in [`Containerd::image_client`] and friends.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running containerd; killed when dropped (its log is printed then if the test panics), its
/// temp dir (images, state, socket) removed.
#[derive(Debug)]
pub struct Containerd {
    process: Option<ServiceProcess>,
    /// containerd's data directory when not the temp dir's `root` (e.g. on a small tmpfs).
    root: Option<PathBuf>,
    /// The containerd binary run.
    binary: PathBuf,
    // Declared last so it is removed after the process was killed.
    dir: TempDir,
}

impl Containerd {
    /// Starts containerd in a fresh temp dir and waits (at most 30 s) until its CRI answers
    /// `RuntimeService.Version`.
    ///
    /// `insecure_registries` (`127.0.0.1:<port>` each) are reached over plain HTTP; more can be
    /// added later with [`Containerd::trust_insecure_registry`]. The error says how to install
    /// containerd when the binary is missing, and carries its log when it did not come up.
    pub async fn start(insecure_registries: &[String]) -> anyhow::Result<Containerd> {
        Containerd::start_with_root(insecure_registries, None).await
    }

    /// [`Containerd::start`] with its data directory (content store, snapshots, metadata) at
    /// `root` when given, e.g. on a [`crate::Tmpfs`] to fill its disk for real.
    pub async fn start_with_root(
        insecure_registries: &[String],
        root: Option<PathBuf>,
    ) -> anyhow::Result<Containerd> {
        if !Path::new(CONTAINERD_BINARY).is_file() {
            bail!("{CONTAINERD_BINARY} not found: install it with `apt-get install -y containerd`");
        }
        Containerd::start_binary(Path::new(CONTAINERD_BINARY), insecure_registries, root).await
    }

    /// [`Containerd::start_with_root`] running `binary` instead of Debian's containerd (e.g.
    /// another release, see `tests/containerd/build.sh`).
    pub async fn start_binary(
        binary: &Path,
        insecure_registries: &[String],
        root: Option<PathBuf>,
    ) -> anyhow::Result<Containerd> {
        if !binary.is_file() {
            bail!("{} not found", binary.display());
        }
        let mut containerd = Containerd {
            process: None,
            root,
            binary: binary.to_owned(),
            dir: tempfile::Builder::new()
                .prefix("prepull-containerd-")
                .tempdir()?,
        };
        containerd.write_config()?;
        for host_port in insecure_registries {
            containerd.trust_insecure_registry(host_port)?;
        }
        containerd.spawn_and_wait().await?;
        Ok(containerd)
    }

    /// Lets pulls reach the registry at `host_port` (`127.0.0.1:<port>`) over plain HTTP.
    ///
    /// Takes effect from the next pull on: containerd reads its registry host directory
    /// (`hosts.toml` files) on every pull, so this works while containerd runs.
    pub fn trust_insecure_registry(&self, host_port: &str) -> anyhow::Result<()> {
        let dir = self.registry_hosts_dir().join(host_port);
        std::fs::create_dir_all(&dir)?;
        let hosts = format!(
            "server = \"http://{host_port}\"\n\n\
             [host.\"http://{host_port}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        );
        std::fs::write(dir.join("hosts.toml"), hosts)
            .with_context(|| format!("writing the hosts.toml of {host_port}"))
    }

    /// The CRI (and containerd API) socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// `unix://<socket path>`, as a `--cri-endpoint` flag takes it.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    /// containerd's data directory (`root` in its config): content store, snapshots, metadata.
    pub fn root_dir(&self) -> PathBuf {
        self.root
            .clone()
            .unwrap_or_else(|| self.dir.path().join("root"))
    }

    /// The file collecting containerd's output over all its runs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("containerd.log")
    }

    /// Everything containerd logged so far (empty when nothing could be read).
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// A fresh CRI image client on this containerd's socket.
    pub async fn image_client(&self) -> anyhow::Result<ImageServiceClient<Channel>> {
        Ok(ImageServiceClient::new(self.channel().await?))
    }

    /// A fresh CRI runtime client on this containerd's socket.
    pub async fn runtime_client(&self) -> anyhow::Result<RuntimeServiceClient<Channel>> {
        Ok(RuntimeServiceClient::new(self.channel().await?))
    }

    async fn channel(&self) -> anyhow::Result<Channel> {
        prepull_cri::connect_unix_with_timeout(self.socket_path(), CONNECT_TIMEOUT)
            .await
            .context("connecting to containerd")
    }

    /// Whether the process is currently running.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| matches!(process.exit_status(), Ok(None)))
    }

    /// Kills containerd (SIGKILL, like a crash) and waits for it to exit. Its root (pulled
    /// images) is kept for [`Containerd::start_again`]. Does nothing when stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(process) = self.process.take() {
            process.kill().await.context("stopping containerd")?;
        }
        Ok(())
    }

    /// Starts containerd again on the same root, state and socket, and waits until its CRI
    /// answers.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn_and_wait().await
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn registry_hosts_dir(&self) -> PathBuf {
        self.dir.path().join("registry-hosts")
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let dir = self.dir.path();
        for sub in [
            "root",
            "state",
            "opt",
            "cni/bin",
            "cni/conf",
            "registry-hosts",
        ] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let path = |sub: &str| dir.join(sub).display().to_string();
        // Snapshotters other than `native` need mounts or kernel features, and only log noise.
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts}"
"#,
            root = self.root_dir().display(),
            state = path("state"),
            socket = self.socket_path().display(),
            opt = path("opt"),
            cni_bin = path("cni/bin"),
            cni_conf = path("cni/conf"),
            hosts = path("registry-hosts"),
        );
        std::fs::write(self.config_path(), config).context("writing containerd's config")
    }

    async fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        // A socket left by a killed process would make the first probes fail oddly.
        let _ = std::fs::remove_file(self.socket_path());
        let mut command = Command::new(&self.binary);
        command.arg("--config").arg(self.config_path());
        self.process = Some(ServiceProcess::spawn(command, &self.log_path())?);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_problem = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(process) = self.process.as_mut()
                && let Some(status) = process.exit_status()?
            {
                bail!(
                    "containerd exited ({status}) before its CRI answered; its log:\n{}",
                    self.logs()
                );
            }
            match self.probe_version().await {
                Ok(()) => return Ok(()),
                Err(problem) => last_problem = format!("{problem:#}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop().await?;
        bail!(
            "containerd's CRI did not answer within {READY_TIMEOUT:?} ({last_problem}); its log:\n{}",
            self.logs()
        )
    }

    /// One CRI `Version` call; Ok when containerd's CRI plugin answers.
    async fn probe_version(&self) -> anyhow::Result<()> {
        if !self.socket_path().exists() {
            bail!("no socket yet");
        }
        let channel =
            prepull_cri::connect_unix_with_timeout(self.socket_path(), PROBE_TIMEOUT).await?;
        let mut request = tonic::Request::new(VersionRequest {
            version: String::from("v1"),
        });
        request.set_timeout(PROBE_TIMEOUT);
        RuntimeServiceClient::new(channel).version(request).await?;
        Ok(())
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        print_log_if_panicking(
            &format!("containerd {}", self.socket_path().display()),
            &self.log_path(),
        );
    }
}
