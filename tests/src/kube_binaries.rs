//! Where the kube-apiserver and kube-controller-manager binaries built by `tests/kube/build.sh`
//! live.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// The script building (once) and caching the Kubernetes binaries; it owns the pinned version.
pub const KUBE_BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kube/build.sh");

/// Names a directory holding both binaries, overriding the build script's cache.
pub const KUBE_BIN_DIR_ENV: &str = "PREPULL_KUBE_BIN_DIR";

/// The script's fast path only checks two files; the bound guards against a hung shell.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A directory holding `kube-apiserver` and `kube-controller-manager`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeBinaries {
    dir: PathBuf,
}

impl KubeBinaries {
    /// Finds the binaries: `$PREPULL_KUBE_BIN_DIR` when set, else the build script's cache
    /// (`build.sh --cached-only`). Never builds: a cold build takes many minutes, so a missing
    /// binary is an error naming the command to run.
    pub async fn locate() -> anyhow::Result<KubeBinaries> {
        let dir = match std::env::var_os(KUBE_BIN_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => cached_dir().await?,
        };
        let binaries = KubeBinaries { dir };
        for binary in [
            binaries.kube_apiserver(),
            binaries.kube_controller_manager(),
        ] {
            if !binary.is_file() {
                bail!(
                    "{} is missing: build it with `{KUBE_BUILD_SCRIPT}` (cold build: tens of minutes) \
                     or point {KUBE_BIN_DIR_ENV} at a directory holding both binaries",
                    binary.display()
                );
            }
        }
        Ok(binaries)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/kube-apiserver`.
    pub fn kube_apiserver(&self) -> PathBuf {
        self.dir.join("kube-apiserver")
    }

    /// `<dir>/kube-controller-manager`.
    pub fn kube_controller_manager(&self) -> PathBuf {
        self.dir.join("kube-controller-manager")
    }
}

async fn cached_dir() -> anyhow::Result<PathBuf> {
    let output = tokio::time::timeout(
        LOOKUP_TIMEOUT,
        Command::new("bash")
            .arg(KUBE_BUILD_SCRIPT)
            .arg("--cached-only")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the build script's cache lookup hung")?
    .with_context(|| format!("running {KUBE_BUILD_SCRIPT}"))?;
    if !output.status.success() {
        bail!(
            "kube-apiserver and kube-controller-manager are not built: run `{KUBE_BUILD_SCRIPT}` \
             first (cold build: tens of minutes; later runs reuse the cache), or set {KUBE_BIN_DIR_ENV}.\n{}",
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
