//! The real server, started in-process in standalone mode on a free loopback port, and the
//! machine's kubectl pointed at it through the kubeconfig the server writes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use prepull_apiserver::config::Config;
use prepull_apiserver::options::Options;
use prepull_testbed::{Etcd, KUBECTL_BINARY, Kubectl, eventually, free_loopback_port};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the server may take to answer `/readyz` after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped server may take to finish its shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Which storage the server runs on.
pub enum Backend {
    Embedded,
    Etcd(Box<Etcd>),
}

impl Backend {
    pub async fn embedded() -> Backend {
        Backend::Embedded
    }

    pub async fn etcd() -> Backend {
        Backend::Etcd(Box::new(Etcd::start().await.expect("etcd starts")))
    }
}

/// A running server, its data dir and a kubectl for its admin.
pub struct TestServer {
    pub kubectl: Kubectl,
    pub data_dir: PathBuf,
    backend: Backend,
    port: u16,
    running: Option<Running>,
    _dir: TempDir,
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Starts a server on `backend` in a fresh data dir and waits until it is ready; its
    /// kubectl is `/usr/bin/kubectl`.
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, KUBECTL_BINARY).await
    }

    /// Like [`TestServer::start`], with the kubectl at `kubectl`.
    pub async fn start_with(backend: Backend, kubectl: &str) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("prepull-apiserver-")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let mut server = TestServer {
            kubectl: Kubectl::with_binary(kubectl, data_dir.join("kubeconfig")),
            data_dir,
            backend,
            port: 0,
            running: None,
            _dir: dir,
        };
        server.start_again().await;
        server
    }

    /// Starts the server (again) on the same data dir and storage, on a fresh port.
    pub async fn start_again(&mut self) {
        assert!(self.running.is_none(), "stop the server first");
        self.port = free_loopback_port().expect("a free port");
        let mut args = vec![
            "prepull-apiserver".to_string(),
            "--standalone".into(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--secure-port".into(),
            self.port.to_string(),
            "--bind-address".into(),
            "127.0.0.1".into(),
            "--shutdown-timeout-seconds".into(),
            "5".into(),
            // These tests exercise the REST API. With no nodes, the scheduler would complete
            // every job at once, and a completed job's spec is frozen.
            "--disable-scheduler".into(),
        ];
        if let Backend::Etcd(etcd) = &self.backend {
            args.push("--etcd-servers".into());
            args.push(etcd.endpoint());
        }
        let config = Config::from_options(Options::parse_from(args)).expect("valid config");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(prepull_apiserver::run_until(config, async move {
            let _ = stopped.await;
        }));
        self.running = Some(Running { stop, task });
        let kubectl = self.kubectl.clone();
        eventually("the server answers /readyz", READY_TIMEOUT, || {
            let kubectl = kubectl.clone();
            async move {
                let out = kubectl
                    .run(&["get", "--raw", "/readyz", "--request-timeout=2s"])
                    .await?;
                if out.trim() == "ok" {
                    Ok(())
                } else {
                    bail!("/readyz said {out:?}")
                }
            }
        })
        .await
        .expect("the server becomes ready");
    }

    /// Shuts the server down gracefully and waits until it has.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("the server is running");
        let _ = running.stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, running.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
            .expect("the server ran without error");
    }

    /// Runs kubectl; panics with its stderr when it fails.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl
            .run(args)
            .await
            .unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// Runs kubectl expecting it to fail; returns its error text.
    pub async fn kubectl_fails(&self, args: &[&str]) -> String {
        match self.kubectl.run(args).await {
            Ok(out) => panic!("kubectl {} succeeded: {out}", args.join(" ")),
            Err(err) => format!("{err:#}"),
        }
    }

    /// Runs kubectl with `stdin`; panics when it fails.
    pub async fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> String {
        self.kubectl
            .run_with_stdin(args, Some(stdin))
            .await
            .unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// Starts a long-running kubectl (e.g. `get -w`) whose stdout is read line by line.
    pub fn kubectl_stream(&self, args: &[&str]) -> Streaming {
        let mut command = self.kubectl.command();
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("kubectl starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Streaming {
            _child: child,
            lines: BufReader::new(stdout).lines(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.task.abort();
        }
    }
}

/// A kubectl still running, killed when dropped.
pub struct Streaming {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Streaming {
    /// Reads lines until one satisfies `wanted` and returns it; fails after `timeout`.
    pub async fn line_matching(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        tokio::time::timeout(timeout, async {
            loop {
                match self.lines.next_line().await? {
                    Some(line) if wanted(&line) => return Ok(line),
                    Some(_) => continue,
                    None => bail!("kubectl ended before the expected line"),
                }
            }
        })
        .await
        .context("no matching line in time")?
    }
}

/// A fixture from `api/tests/examples/`.
pub fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../api/tests/examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
