//! The machine's kubectl, bound to one kubeconfig.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Where these machines have kubectl.
pub const KUBECTL_BINARY: &str = "/usr/bin/kubectl";

/// How long one kubectl invocation may take, unless the caller passes `--request-timeout`-like
/// bounds of its own.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `/usr/bin/kubectl --kubeconfig <file> ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// kubectl using `kubeconfig`.
    pub fn new(kubeconfig: impl Into<PathBuf>) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.into(),
        }
    }

    /// A command with `--kubeconfig` set, for callers needing full control.
    pub fn command(&self) -> Command {
        let mut command = Command::new(KUBECTL_BINARY);
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
            .with_context(|| format!("spawning {KUBECTL_BINARY}"))?;
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
