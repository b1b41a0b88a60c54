//! The machine's kubectl (or one of the versioned kubectls next to it), bound to one
//! kubeconfig.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Where these machines have kubectl.
pub const KUBECTL_BINARY: &str = "/usr/bin/kubectl";

/// Every kubectl release on these machines (the Google Cloud SDK's), oldest first; with
/// [`KUBECTL_BINARY`] these are the clients the kubectl scenario suite runs with.
pub const VERSIONED_KUBECTLS: &[&str] = &[
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.27",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.28",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.29",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.30",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.31",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.32",
    "/usr/lib/google-cloud-sdk/bin/kubectl.1.33",
];

/// How long one kubectl invocation may take, unless the caller passes `--request-timeout`-like
/// bounds of its own.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `<binary> --kubeconfig <file> ...` (by default `/usr/bin/kubectl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// `/usr/bin/kubectl` using `kubeconfig`.
    pub fn new(kubeconfig: impl Into<PathBuf>) -> Kubectl {
        Kubectl::with_binary(KUBECTL_BINARY, kubeconfig)
    }

    /// The kubectl at `binary` using `kubeconfig`.
    pub fn with_binary(binary: impl Into<PathBuf>, kubeconfig: impl Into<PathBuf>) -> Kubectl {
        Kubectl {
            binary: binary.into(),
            kubeconfig: kubeconfig.into(),
        }
    }

    /// The binary this runs.
    pub fn binary(&self) -> &std::path::Path {
        &self.binary
    }

    /// A command with `--kubeconfig` set, for callers needing full control.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl with `args` and returns its stdout; an error carries its stderr when it
    /// exits unsuccessfully or takes longer than 60 s.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        self.run_with_stdin(args, None).await
    }

    /// Like [`Kubectl::run`], feeding `stdin` (e.g. a manifest for `apply -f -`).
    pub async fn run_with_stdin(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut command = self.command();
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        let output = tokio::time::timeout(KUBECTL_TIMEOUT, async {
            if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
                pipe.write_all(text.as_bytes()).await?;
            }
            child.wait_with_output().await
        })
        .await
        .with_context(|| {
            format!(
                "kubectl {} took longer than {KUBECTL_TIMEOUT:?}",
                args.join(" ")
            )
        })??;
        if !output.status.success() {
            bail!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
