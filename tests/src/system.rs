//! A whole Prepull system on this machine, from real parts: a registry (Debian's
//! docker-registry) with a demo image, the `prepull-apiserver` binary in standalone mode,
//! and per node its own containerd and a `prepull-nodeagent` binary registering the node.
//! Used by the end-to-end and fault tests and by `run/up.sh` (through the `local_system`
//! example).
//!
//! Everything lives under one directory (server data, logs, node kubeconfigs); each
//! containerd and the registry keep their own temp dirs. Dropping the system kills every
//! process it started and removes the temp dirs.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::{Containerd, Kubectl, Registry, RegistryOptions, eventually, free_loopback_port};
use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long a started server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a started agent may take to register its NodeImage.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `cargo build` of the agent may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The repository and tag of the demo image pushed to the registry.
pub const DEMO_REPOSITORY: &str = "demo/hello";
pub const DEMO_TAG: &str = "v1";

/// The two programs a system runs.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub apiserver: PathBuf,
    pub agent: PathBuf,
}

impl Binaries {
    /// The binaries next to the running executable (`target/<profile>/`, or its parent when
    /// the executable sits in `deps/` or `examples/`), building the agent with cargo first
    /// when `build_agent` (the apiserver's tests get their own binary built by cargo).
    pub async fn beside_current_exe(build_agent: bool) -> anyhow::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let mut dir = exe
            .parent()
            .context("the executable's directory")?
            .to_path_buf();
        if dir.ends_with("deps") || dir.ends_with("examples") {
            dir.pop();
        }
        if build_agent {
            build_agent_binary(&dir).await?;
        }
        let binaries = Binaries {
            apiserver: dir.join("prepull-apiserver"),
            agent: dir.join("prepull-nodeagent"),
        };
        for path in [&binaries.apiserver, &binaries.agent] {
            if !path.is_file() {
                bail!(
                    "{} not found: build it with `cargo build -p prepull-apiserver -p prepull-nodeagent --bins`",
                    path.display()
                );
            }
        }
        Ok(binaries)
    }
}

/// `cargo build -p prepull-nodeagent --bin prepull-nodeagent` into the profile directory
/// `dir` (`target/debug` or `target/release`).
async fn build_agent_binary(dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "prepull-nodeagent",
            "--bin",
            "prepull-nodeagent",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true);
    if dir.ends_with("release") {
        command.arg("--release");
    }
    if let Some(target) = dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    let status = tokio::time::timeout(BUILD_TIMEOUT, command.status())
        .await
        .context("building prepull-nodeagent took too long")??;
    if !status.success() {
        bail!("building prepull-nodeagent failed: {status}");
    }
    Ok(())
}

/// A child process whose output goes to a log file; killed when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    log: PathBuf,
    /// The program, its arguments and the environment it was given, to start it again.
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl Process {
    /// Spawns `command` with its stdout and stderr appended to `log`.
    pub fn spawn(command: Command, log: PathBuf) -> anyhow::Result<Process> {
        let std = command.as_std();
        let program = std.get_program().to_owned();
        let args = std.get_args().map(OsStr::to_owned).collect();
        let envs = std
            .get_envs()
            .filter_map(|(key, value)| Some((key.to_owned(), value?.to_owned())))
            .collect();
        let child = spawn_logged(command, &log)?;
        Ok(Process {
            child,
            log,
            program,
            args,
            envs,
        })
    }

    /// Starts the same program again (same arguments and environment, output appended to
    /// the same log) after it was killed or exited; kills it first when it still runs.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.envs.iter().cloned());
        self.child = spawn_logged(command, &self.log)?;
        Ok(())
    }

    /// The process id.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process (SIGKILL, a crash) and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its output so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Spawns `command` with stdout and stderr appended to `log`, killed when dropped.
fn spawn_logged(mut command: Command, log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {:?}", command.as_std().get_program()))
}

/// One `prepull-apiserver --standalone` process.
#[derive(Debug)]
pub struct Server {
    pub process: Process,
    pub data_dir: PathBuf,
    pub port: u16,
    pub kubectl: Kubectl,
    args: Vec<String>,
    binary: PathBuf,
}

impl Server {
    /// Starts the server with its data in `data_dir` on a free port (plus `extra` flags) and
    /// waits until it answers `/readyz`.
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        extra: &[String],
        log: PathBuf,
    ) -> anyhow::Result<Server> {
        std::fs::create_dir_all(data_dir)?;
        let port = free_loopback_port()?;
        let mut args: Vec<String> = vec![
            "--standalone".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--secure-port".into(),
            port.to_string(),
            "--bind-address".into(),
            "127.0.0.1".into(),
            "--shutdown-timeout-seconds".into(),
            "2".into(),
        ];
        args.extend(extra.iter().cloned());
        let kubectl = Kubectl::new(data_dir.join("kubeconfig"));
        let process = spawn_ready(binary, &args, log, &kubectl).await?;
        Ok(Server {
            process,
            data_dir: data_dir.to_path_buf(),
            port,
            kubectl,
            args,
            binary: binary.to_path_buf(),
        })
    }

    /// Kills the server (SIGKILL, a crash) and starts it again with the same flags, data
    /// dir and port; waits until it answers `/readyz`.
    pub async fn restart_after_kill(&mut self) -> anyhow::Result<()> {
        self.process.kill().await;
        self.start_again().await
    }

    /// Starts the server again after [`Process::kill`] (same flags, data dir and port) and
    /// waits until it answers `/readyz`.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.process.start_again().await?;
        wait_ready(&mut self.process, &self.kubectl).await
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    /// Writes the kubeconfig of node `node` (`prepull-apiserver node-kubeconfig NODE`) into
    /// the data dir and returns its path.
    pub async fn node_kubeconfig(&self, node: &str) -> anyhow::Result<PathBuf> {
        let output = Command::new(&self.binary)
            .args(&self.args)
            .args(["node-kubeconfig", node])
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "node-kubeconfig {node}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let path = self.data_dir.join(format!("{node}.kubeconfig"));
        std::fs::write(&path, &output.stdout)?;
        Ok(path)
    }
}

impl Server {
    /// Revokes every certificate issued to `node` (`prepull-apiserver revoke-node NODE`).
    pub async fn revoke_node(&self, node: &str) -> anyhow::Result<String> {
        let output = Command::new(&self.binary)
            .args(&self.args)
            .args(["revoke-node", node])
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "revoke-node {node}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Spawns the server with `args`, its output appended to `log`, and waits until it answers
/// `/readyz`; the error carries its log.
async fn spawn_ready(
    binary: &Path,
    args: &[String],
    log: PathBuf,
    kubectl: &Kubectl,
) -> anyhow::Result<Process> {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("PREPULL_LOG", "info,prepull_apiserver=debug");
    let mut process = Process::spawn(command, log)?;
    wait_ready(&mut process, kubectl).await?;
    Ok(process)
}

/// Waits until the server `process` answers `/readyz`; the error carries its log.
async fn wait_ready(process: &mut Process, kubectl: &Kubectl) -> anyhow::Result<()> {
    let ready = eventually("the API server answers /readyz", READY_TIMEOUT, || {
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
    .await;
    if let Err(err) = ready {
        let running = process.is_running();
        bail!(
            "the API server did not become ready (running: {running}): {err:#}\n--- its log ---\n{}",
            process.logs()
        );
    }
    Ok(())
}

/// A node: its own containerd and an agent registered as `name`.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub containerd: Containerd,
    pub agent: Process,
}

/// A registry, one server and its nodes.
#[derive(Debug)]
pub struct System {
    pub dir: PathBuf,
    pub binaries: Binaries,
    pub registry: Registry,
    pub server: Server,
    pub nodes: Vec<Node>,
    /// `<registry>/demo/hello:v1`.
    pub demo_image: String,
}

impl System {
    /// Starts the registry (pushing the demo image), the server in `dir` with `server_flags`,
    /// and one node per `(name, labels)`.
    pub async fn start(
        dir: &Path,
        binaries: Binaries,
        server_flags: &[String],
        nodes: &[(&str, &[(&str, &str)])],
    ) -> anyhow::Result<System> {
        std::fs::create_dir_all(dir)?;
        let registry = Registry::start(RegistryOptions::default()).await?;
        let demo = registry.push_test_image(DEMO_REPOSITORY, DEMO_TAG).await?;
        let server = Server::start(
            &binaries.apiserver,
            &dir.join("server"),
            server_flags,
            dir.join("apiserver.log"),
        )
        .await?;
        let mut system = System {
            dir: dir.to_path_buf(),
            binaries,
            registry,
            server,
            nodes: Vec::new(),
            demo_image: demo.reference,
        };
        for (name, labels) in nodes {
            system.add_node(name, labels).await?;
        }
        Ok(system)
    }

    /// kubectl as the admin.
    pub fn kubectl(&self) -> &Kubectl {
        &self.server.kubectl
    }

    /// Starts a containerd and an agent for node `name` with `labels`, and waits until the
    /// node's NodeImage exists.
    pub async fn add_node(&mut self, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<()> {
        let containerd = Containerd::start(&[self.registry.host_port()]).await?;
        let agent = start_agent(
            &self.binaries.agent,
            &self.server,
            &self.dir,
            name,
            labels,
            &containerd,
        )
        .await?;
        self.nodes.push(Node {
            name: name.to_owned(),
            containerd,
            agent,
        });
        Ok(())
    }

    /// Pushes another tag of a tiny image and returns its reference.
    pub async fn push_image(&self, repository: &str, tag: &str) -> anyhow::Result<String> {
        Ok(self
            .registry
            .push_test_image(repository, tag)
            .await?
            .reference)
    }

    /// The logs of every process, for a failing test.
    pub fn logs(&self) -> String {
        let mut text = format!("--- apiserver ---\n{}", tail(&self.server.process.logs()));
        for node in &self.nodes {
            text.push_str(&format!(
                "\n--- agent {} ---\n{}",
                node.name,
                tail(&node.agent.logs())
            ));
        }
        text
    }
}

/// Starts `prepull-nodeagent` for `name` against `server` and waits until NodeImage `name`
/// exists.
pub async fn start_agent(
    binary: &Path,
    server: &Server,
    dir: &Path,
    name: &str,
    labels: &[(&str, &str)],
    containerd: &Containerd,
) -> anyhow::Result<Process> {
    let kubeconfig = server.node_kubeconfig(name).await?;
    let mut command = Command::new(binary);
    command
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--node-name",
            name,
            "--cri-endpoint",
            &containerd.endpoint(),
        ])
        .args(["--health-port", "0", "--status-interval-ms", "100"])
        .env("PREPULL_LOG", "info");
    if !labels.is_empty() {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        command.arg("--node-labels").arg(labels.join(","));
    }
    let mut agent = Process::spawn(command, dir.join(format!("agent-{name}.log")))?;
    let kubectl = server.kubectl.clone();
    let registered = eventually(
        "the agent registers its NodeImage",
        REGISTER_TIMEOUT,
        || {
            let kubectl = kubectl.clone();
            async move { kubectl.run(&["get", "nodeimage", name, "-o", "name"]).await }
        },
    )
    .await;
    if let Err(err) = registered {
        let running = agent.is_running();
        bail!(
            "agent {name} did not register (running: {running}): {err:#}\n--- its log ---\n{}",
            agent.logs()
        );
    }
    Ok(agent)
}

/// The last 80 lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}
