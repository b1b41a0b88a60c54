//! The helm binary built by `tests/helm/build.sh` (from the Go module proxy, cached), run with
//! its own config/cache/data directories and a kubeconfig.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// `$PREPULL_HELM` overrides where the binary is.
const HELM_ENV: &str = "PREPULL_HELM";
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/helm/build.sh");
/// A helm command that takes longer than this failed.
const HELM_TIMEOUT: Duration = Duration::from_secs(120);

/// The chart, in the repository.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/prepull")
}

/// helm pointed at one kubeconfig, with every state directory under `home`.
pub struct Helm {
    binary: PathBuf,
    home: PathBuf,
    kubeconfig: PathBuf,
}

impl Helm {
    /// Finds the binary (`$PREPULL_HELM`, else `tests/helm/build.sh --cached-only`); panics with
    /// the command to run when it is not built.
    pub async fn locate(home: &Path, kubeconfig: &Path) -> Helm {
        let binary = match std::env::var_os(HELM_ENV) {
            Some(path) => PathBuf::from(path),
            None => {
                let out = Command::new(BUILD_SCRIPT)
                    .arg("--cached-only")
                    .stderr(Stdio::inherit())
                    .output()
                    .await
                    .expect("running tests/helm/build.sh");
                assert!(
                    out.status.success(),
                    "helm is not built: run tests/helm/build.sh (or set {HELM_ENV})"
                );
                PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
            }
        };
        assert!(binary.is_file(), "{} is not a file", binary.display());
        Helm {
            binary,
            home: home.to_path_buf(),
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// Runs helm with `args`; its stdout, or an error with its stderr.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(HELM_TIMEOUT, command.output())
            .await
            .with_context(|| format!("helm {} took over {HELM_TIMEOUT:?}", args.join(" ")))?
            .context("running helm")?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "helm {} failed ({}):\n{}{stdout}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(stdout)
    }

    /// Runs helm; panics with its stderr when it fails.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.run(args).await.unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// Runs helm expecting it to fail; its error text.
    pub async fn fails(&self, args: &[&str]) -> String {
        match self.run(args).await {
            Ok(out) => panic!("helm {} succeeded:\n{out}", args.join(" ")),
            Err(err) => format!("{err:#}"),
        }
    }
}
