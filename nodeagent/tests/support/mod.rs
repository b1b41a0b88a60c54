//! What the agent tests run against: the real API server in-process (standalone, embedded
//! store) on a free port, and agents run in-process with node kubeconfigs it issued.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use kube::Api;
use prepull_api::NodeImage;
use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};
use prepull_testbed::{Kubectl, assert_eventually, eventually, free_loopback_port};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the server may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped server or agent may take to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The API server in standalone mode, stopped when dropped.
pub struct Server {
    pub kubectl: Kubectl,
    options_args: Vec<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    dir: TempDir,
}

impl Server {
    pub async fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("prepull-nodeagent-test-")
            .tempdir()
            .expect("temp dir");
        let port = free_loopback_port().expect("a free port");
        let options_args: Vec<String> = vec![
            "prepull-apiserver".into(),
            "--standalone".into(),
            "--data-dir".into(),
            dir.path().display().to_string(),
            "--secure-port".into(),
            port.to_string(),
            "--bind-address".into(),
            "127.0.0.1".into(),
            "--shutdown-timeout-seconds".into(),
            "2".into(),
        ];
        let options = prepull_apiserver::options::Options::parse_from(&options_args);
        let config = prepull_apiserver::config::Config::from_options(options).expect("config");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(prepull_apiserver::run_until(config, async move {
            let _ = stopped.await;
        }));
        let kubectl = Kubectl::new(dir.path().join("kubeconfig"));
        let probe = kubectl.clone();
        assert_eventually("the server answers /readyz", READY_TIMEOUT, || {
            let kubectl = probe.clone();
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
        Server {
            kubectl,
            options_args,
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    /// The admin's kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Writes the kubeconfig `node-kubeconfig NODE` prints and returns its path.
    pub fn node_kubeconfig(&self, node: &str) -> PathBuf {
        let mut args = self.options_args.clone();
        args.extend(["node-kubeconfig".to_string(), node.to_string()]);
        let options = prepull_apiserver::options::Options::parse_from(&args);
        let text =
            prepull_apiserver::standalone::node_kubeconfig::render(&options, node).expect("render");
        let path = self.dir.path().join(format!("{node}.kubeconfig"));
        std::fs::write(&path, text).expect("write the node kubeconfig");
        path
    }

    /// A NodeImage API acting as the admin.
    pub async fn admin(&self) -> Api<NodeImage> {
        api_for(&self.admin_kubeconfig()).await
    }

    /// A temp dir path for files a test writes (removed with the server).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `kubectl patch nodeimage NODE --type=merge` adding `tag` of `image` with `pull_policy`
    /// (JSON) and extra tag fields, as the user docs show.
    pub async fn add_tag(&self, node: &str, image: &str, tag: &str, extra: serde_json::Value) {
        let mut entry = serde_json::json!({
            "tag": tag,
            "pullPolicy": {"ttlSecondsAfterFinished": 300},
            "createdAt": "2026-01-01T00:00:00Z",
        });
        for (key, value) in extra.as_object().expect("an object") {
            entry[key] = value.clone();
        }
        let patch = serde_json::json!({"spec": {"images": {image: {"tags": [entry]}}}});
        self.kubectl
            .run(&[
                "patch",
                "nodeimage",
                node,
                "--type=merge",
                "-p",
                &patch.to_string(),
            ])
            .await
            .unwrap_or_else(|err| panic!("{err:#}"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A NodeImage API for whoever `kubeconfig` names.
pub async fn api_for(kubeconfig: &std::path::Path) -> Api<NodeImage> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    Api::all(kube::Client::try_from(config).expect("client"))
}

/// An agent running in-process until stopped (or dropped).
pub struct Agent {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), prepull_nodeagent::AgentError>>>,
}

impl Agent {
    /// Starts the agent with `args` (the binary name is added) plus a fast status interval and
    /// no health port unless `args` name one.
    pub async fn start(args: &[&str]) -> Agent {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "prepull_nodeagent=debug",
            ))
            .with_test_writer()
            .try_init();
        let mut all = vec!["prepull-nodeagent", "--status-interval-ms", "100"];
        if !args.contains(&"--health-port") {
            all.extend(["--health-port", "0"]);
        }
        all.extend_from_slice(args);
        let options = prepull_nodeagent::options::Options::parse_from(all);
        let config = prepull_nodeagent::config::Config::from_options(options)
            .await
            .expect("agent config");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let result = prepull_nodeagent::run_until(config, async move {
                let _ = stopped.await;
            })
            .await;
            if let Err(err) = &result {
                eprintln!("the agent failed: {err}");
            }
            result
        });
        Agent {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the agent and waits until it has.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        let task = self.task.take().expect("running");
        tokio::time::timeout(STOP_TIMEOUT, task)
            .await
            .expect("the agent stops in time")
            .expect("the agent does not panic")
            .expect("the agent ran without error");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The status entry of `tag` of `image` on `node`, if any.
pub async fn tag_status(
    api: &Api<NodeImage>,
    node: &str,
    image: &str,
    tag: &str,
) -> anyhow::Result<Option<ImageTagStatus>> {
    let object = api.get(node).await?;
    Ok(object
        .status
        .and_then(|status| status.image_statuses.get(image).cloned())
        .and_then(|status| status.tags.into_iter().find(|t| t.tag == tag)))
}

/// Waits until `tag` of `image` on `node` reaches `phase`; returns its status.
pub async fn wait_for_phase(
    api: &Api<NodeImage>,
    node: &str,
    image: &str,
    tag: &str,
    phase: ImagePullPhase,
    timeout: Duration,
) -> ImageTagStatus {
    assert_eventually(&format!("{image}:{tag} is {phase:?}"), timeout, || async {
        match tag_status(api, node, image, tag).await? {
            Some(status) if status.phase == phase => Ok(status),
            other => bail!("status is {other:?}"),
        }
    })
    .await
}

/// Waits until NodeImage `node` exists (the agent registered it).
pub async fn wait_registered(api: &Api<NodeImage>, node: &str) -> NodeImage {
    eventually(
        "the agent registers its NodeImage",
        Duration::from_secs(30),
        || async { api.get(node).await },
    )
    .await
    .expect("registered")
}
