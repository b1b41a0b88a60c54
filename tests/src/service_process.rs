//! A service the harness runs as a child process, with its output collected in a log file.

use std::path::Path;
use std::process::{ExitStatus, Stdio};

use anyhow::Context;
use tokio::process::{Child, Command};

/// A running child process whose stdout and stderr are appended to one log file.
/// Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub(crate) struct ServiceProcess {
    child: Child,
}

impl ServiceProcess {
    /// Spawns `command`, appending its output to `log_path` (created when missing).
    pub(crate) fn spawn(mut command: Command, log_path: &Path) -> anyhow::Result<ServiceProcess> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .with_context(|| format!("opening log file {}", log_path.display()))?;
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {program}"))?;
        Ok(ServiceProcess { child })
    }

    /// The operating-system process id (`None` once it was reaped).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status when the process has exited, `None` while it runs.
    pub(crate) fn exit_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Kills the process (SIGKILL, like a crash) and waits until it has exited.
    pub(crate) async fn kill(mut self) -> anyhow::Result<()> {
        // start_kill fails only when the process already exited; wait() reaps it either way.
        let _ = self.child.start_kill();
        self.child
            .wait()
            .await
            .context("waiting for the process to exit")?;
        Ok(())
    }
}

/// The text of a log file, empty when it cannot be read.
pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The last `lines` lines of a log file, for error messages and failing tests.
pub(crate) fn read_log_tail(path: &Path, lines: usize) -> String {
    let text = read_log(path);
    let all: Vec<&str> = text.lines().collect();
    let skipped = all.len().saturating_sub(lines);
    let mut tail = if skipped > 0 {
        format!("[{skipped} earlier lines in {}]\n", path.display())
    } else {
        String::new()
    };
    tail.push_str(&all[skipped..].join("\n"));
    tail
}

/// Prints a service's log tail to stderr when the current thread panics (a failing test), so the
/// test output shows what the service said. Call from `Drop`.
pub(crate) fn print_log_if_panicking(service: &str, path: &Path) {
    if std::thread::panicking() {
        eprintln!(
            "----- {service} log (last {LOG_TAIL_LINES} lines) -----\n{}",
            read_log_tail(path, LOG_TAIL_LINES)
        );
    }
}

/// How many log lines errors and failing tests show.
pub(crate) const LOG_TAIL_LINES: usize = 150;
