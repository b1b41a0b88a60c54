//! A real OCI registry (Debian's `docker-registry`, distribution 2.8) serving plain HTTP on a
//! loopback port, optionally private (htpasswd basic auth), with a way to push tiny test images.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use prepull_testbed::{Registry, RegistryOptions};
//!
//! let registry = Registry::start(RegistryOptions::default()).await?;
//! let image = registry.push_test_image("team/app", "v1").await?;
//! assert_eq!(image.reference, format!("{}/team/app:v1", registry.host_port()));
//!
//! let private = Registry::start(RegistryOptions::private("alice", "s3cret")).await?;
//! private.push_test_image("team/app", "v1").await?; // pushes with the credentials
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::process::Command;
use tokio::time::Instant;

use crate::http_probe::http_get;
use crate::ports::free_loopback_port;
use crate::registry_push::RegistryPush;
use crate::service_process::{ServiceProcess, print_log_if_panicking, read_log};
use crate::test_image::TestImage;

/// Where Debian's `docker-registry` package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// How long the registry may take to answer `GET /v2/` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a fresh port is tried when another process took the chosen one meanwhile.
const PORT_CLASH_ATTEMPTS: usize = 3;
/// bcrypt cost of the htpasswd entry: the minimum, since the registry checks it on every
/// request and the password protects nothing.
const BCRYPT_COST: u32 = 4;

/// How to run a [`Registry`].
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `(user, password)` makes the registry private: every request needs these credentials
    /// as HTTP basic auth (htpasswd); `None` serves anyone.
    pub htpasswd: Option<(String, String)>,
}

impl RegistryOptions {
    /// A private registry accepting only `user` / `password`.
    pub fn private(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            htpasswd: Some((user.to_owned(), password.to_owned())),
        }
    }
}

/// What a push stored: the names and digests a pull can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `127.0.0.1:<port>/<repository>:<tag>`.
    pub reference: String,
    /// `127.0.0.1:<port>/<repository>@<manifest digest>`.
    pub digest_reference: String,
    /// `sha256:...` of the manifest (what `repo_digests` and `@sha256:` references carry).
    pub manifest_digest: String,
    /// `sha256:...` of the image config: the image id containerd reports as `image_ref`.
    pub config_digest: String,
    /// Bytes the registry serves for the image (manifest, config, layer).
    pub size: usize,
}

/// A running registry; killed when dropped (its log is printed then if the test panics), its
/// temp dir (storage, config, htpasswd) removed.
#[derive(Debug)]
pub struct Registry {
    process: Option<ServiceProcess>,
    port: u16,
    credentials: Option<(String, String)>,
    // Declared last so it is removed after the process was killed.
    dir: TempDir,
}

impl Registry {
    /// Starts a registry in a fresh temp dir on a free loopback port and waits (at most 20 s)
    /// until `GET /v2/` answers (200, or 401 for a private one).
    ///
    /// The error says how to install the registry when the binary is missing, and carries its
    /// log when it did not come up.
    pub async fn start(options: RegistryOptions) -> anyhow::Result<Registry> {
        if !Path::new(REGISTRY_BINARY).is_file() {
            bail!(
                "{REGISTRY_BINARY} not found: install it with `apt-get install -y docker-registry`"
            );
        }
        let mut last_error = None;
        for _ in 0..PORT_CLASH_ATTEMPTS {
            let mut registry = Registry {
                process: None,
                port: free_loopback_port()?,
                credentials: options.htpasswd.clone(),
                dir: tempfile::Builder::new()
                    .prefix("prepull-registry-")
                    .tempdir()?,
            };
            registry.write_config()?;
            match registry.spawn_and_wait().await {
                Ok(()) => return Ok(registry),
                Err(error) if registry.logs().contains("address already in use") => {
                    last_error = Some(error)
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt ran"))
            .context("the registry kept hitting taken ports")
    }

    /// `127.0.0.1:<port>`: the registry host in image references and containerd's config.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port alone.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `(user, password)` a private registry accepts; `None` for a public one.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The file collecting the registry's output (including one access-log line per request)
    /// over all its runs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// Everything the registry logged so far (empty when nothing could be read).
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// Pushes a tiny image under `repository:tag` whose only file holds `repository:tag`, so
    /// different names give different images and the same name the same image.
    pub async fn push_test_image(&self, repository: &str, tag: &str) -> anyhow::Result<ImageInfo> {
        let image = TestImage::with_payload(format!("{repository}:{tag}").as_bytes())?;
        self.push_image(repository, tag, &image).await
    }

    /// Pushes `image` under `repository:tag` (replacing what the tag pointed at), with the
    /// registry's credentials when it is private.
    pub async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        image: &TestImage,
    ) -> anyhow::Result<ImageInfo> {
        let manifest_digest = RegistryPush::new(self.port, self.credentials())
            .push(repository, tag, image)
            .await
            .with_context(|| format!("pushing {repository}:{tag} to {}", self.host_port()))?;
        let host = self.host_port();
        Ok(ImageInfo {
            reference: format!("{host}/{repository}:{tag}"),
            digest_reference: format!("{host}/{repository}@{manifest_digest}"),
            manifest_digest,
            config_digest: image.config.digest.clone(),
            size: image.size(),
        })
    }

    /// Whether the process is currently running.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| matches!(process.exit_status(), Ok(None)))
    }

    /// Kills the registry (SIGKILL) and waits for it to exit; its storage and port are kept for
    /// [`Registry::start_again`]. Does nothing when stopped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(process) = self.process.take() {
            process.kill().await.context("stopping the registry")?;
        }
        Ok(())
    }

    /// Starts the registry again on the same storage and port and waits until it answers.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn_and_wait().await
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let storage = self.dir.path().join("storage");
        std::fs::create_dir_all(&storage)?;
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  formatter: text\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n\
             health:\n  storagedriver:\n    enabled: false\n",
            storage = storage.display(),
            port = self.port,
        );
        if let Some((user, password)) = &self.credentials {
            let htpasswd = self.dir.path().join("htpasswd");
            let hash = bcrypt::hash(password, BCRYPT_COST).context("hashing the password")?;
            std::fs::write(&htpasswd, format!("{user}:{hash}\n"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: prepull-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(self.config_path(), config).context("writing the registry config")?;
        Ok(())
    }

    async fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let mut command = Command::new(REGISTRY_BINARY);
        command.arg("serve").arg(self.config_path());
        self.process = Some(ServiceProcess::spawn(command, &self.log_path())?);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_problem = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(process) = self.process.as_mut()
                && let Some(status) = process.exit_status()?
            {
                bail!(
                    "the registry exited ({status}) before it answered; its log:\n{}",
                    self.logs()
                );
            }
            match http_get(self.port, "/v2/", PROBE_TIMEOUT).await {
                // A private registry challenges anonymous requests: it is up all the same.
                Ok(answer) if answer.status == 200 || answer.status == 401 => return Ok(()),
                Ok(answer) => last_problem = format!("GET /v2/ answered {}", answer.status),
                Err(problem) => last_problem = format!("{problem:#}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop().await?;
        bail!(
            "the registry did not answer within {READY_TIMEOUT:?} ({last_problem}); its log:\n{}",
            self.logs()
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        print_log_if_panicking(&format!("registry {}", self.host_port()), &self.log_path());
    }
}
