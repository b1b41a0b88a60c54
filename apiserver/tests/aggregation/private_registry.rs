//! Private images end to end in cluster mode: a registry that wants basic auth, two Nodes of
//! the main cluster, and on each a real containerd with an agent that talks to its NodeImage
//! through kube-apiserver with its pod-bound service-account token. A job naming a pull Secret
//! of its namespace completes on both nodes (the agents get the credentials from our server,
//! never from a NodeImage); the same kind of job without the Secret fails on both with the
//! registry's 401.

use std::time::Duration;

use clap::Parser;
use prepull_testbed::{Containerd, Kubectl, Registry, RegistryOptions, eventually};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{Env, NAMESPACE, apply, fails, ok};

const NAMESPACE_P: &str = "team-private";
const NODES: [&str; 2] = ["private-1", "private-2"];
const LABEL: &str = "prepull-test";
const USER: &str = "puller";
const PASSWORD: &str = "registry-pw-7f3a";
/// How long a job may take to finish on both nodes.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long our server may take to create a Ready Node's NodeImage.
const NODE_IMAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an agent may take to stop.
const AGENT_STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// One node: its containerd and its agent running in this process.
pub(crate) struct AgentNode {
    /// The agent's kubeconfig (its token, through kube-apiserver).
    kubeconfig: std::path::PathBuf,
    _containerd: Containerd,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), prepull_nodeagent::AgentError>>,
}

impl AgentNode {
    /// Stops the agent and checks it ran without error.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(AGENT_STOP_TIMEOUT, self.task)
            .await
            .expect("the agent stops in time")
            .expect("the agent task does not panic")
            .expect("the agent ran without error");
    }
}

pub async fn a_job_with_pull_secrets_completes_on_every_node_and_without_them_fails_401(env: &Env) {
    let registry = Registry::start(RegistryOptions::private(USER, PASSWORD))
        .await
        .expect("the private registry starts");
    let host = registry.host_port();
    // Two repositories: a NodeImage keeps pull secrets per image name, not per tag.
    for repository in ["team/with-secret", "team/without-secret"] {
        registry
            .push_test_image(repository, "v1")
            .await
            .expect("image pushed");
    }
    let _ = env.admin.run(&["create", "namespace", NAMESPACE_P]).await;
    let mut agents = Vec::new();
    for node in NODES {
        ready_node(env, node, "private", &json!({})).await;
        agents.push(start_agent(env, node, &host).await);
    }

    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "regcred", "namespace": NAMESPACE_P},
        "stringData": {".dockerconfigjson": json!({"auths": {&host: {
            "username": USER, "password": PASSWORD}}}).to_string()},
    });
    apply(env, &secret.to_string()).await;

    let with = format!("{host}/team/with-secret:v1");
    apply(env, &job("with-secret", &with, Some("regcred"))).await;
    let status = wait_finished(env, "with-secret").await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(2), Some(0)),
        "the job with the Secret succeeds on both nodes: {status}"
    );
    for node in NODES {
        let object = node_image(env, node).await;
        let (phase, _) = tag_status(&object, &with);
        assert_eq!(phase, "Succeeded", "{object}");
        assert!(
            !object.to_string().contains(PASSWORD),
            "credentials never reach a NodeImage: {object}"
        );
    }

    // What the agents were handed: their own node's Secret, and nothing for the other node.
    let credentials = |node: &str| {
        format!(
            "/apis/apps.kruise.io/v1beta1/nodeimages/{node}/credentials?image={host}/team/with-secret"
        )
    };
    let first = Kubectl::new(agents[0].kubeconfig.clone());
    let own = ok(&first, &["get", "--raw", &credentials(NODES[0])]).await;
    assert!(own.contains(USER), "node 1's agent gets the Secret: {own}");
    let other = fails(&first, &["get", "--raw", &credentials(NODES[1])]).await;
    assert!(
        other.contains("Forbidden") && !other.contains(PASSWORD),
        "node 1's agent gets nothing of node 2: {other}"
    );

    let without = format!("{host}/team/without-secret:v1");
    apply(env, &job("without-secret", &without, None)).await;
    let status = wait_finished(env, "without-secret").await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(0), Some(2)),
        "the job without the Secret fails on both nodes: {status}"
    );
    let mut failed: Vec<&str> = status["failedNodes"]
        .as_array()
        .expect("failedNodes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, NODES);
    for node in NODES {
        let object = node_image(env, node).await;
        let (phase, message) = tag_status(&object, &without);
        assert_eq!(phase, "Failed", "{object}");
        assert!(
            message.contains("401"),
            "the registry's refusal is the cause: {message}"
        );
    }

    for agent in agents {
        agent.stop().await;
    }
}

/// A Node of the main cluster with our label `LABEL=label` and `spec`, Ready since long ago,
/// and its NodeImage.
pub(crate) async fn ready_node(env: &Env, node: &str, label: &str, spec: &Value) {
    apply(
        env,
        &json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "labels": {LABEL: label}},
                "spec": spec})
        .to_string(),
    )
    .await;
    let ready = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "KubeletReady",
        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    ok(
        &env.admin,
        &[
            "patch",
            "node",
            node,
            "--subresource=status",
            "--type=merge",
            "-p",
            &ready.to_string(),
        ],
    )
    .await;
    let admin = env.admin.clone();
    eventually(
        "the Ready Node gets its NodeImage with the Node's labels",
        NODE_IMAGE_TIMEOUT,
        || {
            let admin = admin.clone();
            async move {
                let seen = admin
                    .run(&[
                        "get",
                        "nodeimage",
                        node,
                        "-o",
                        "jsonpath={.metadata.labels.prepull-test}",
                    ])
                    .await?;
                anyhow::ensure!(seen == label, "label {seen:?}");
                Ok(())
            }
        },
    )
    .await
    .expect("NodeImage created");
}

/// Starts a containerd for `node` (trusting the plain-HTTP registry) and an agent whose
/// identity is a token bound to a Pod on `node`, reaching its NodeImage through kube-apiserver.
pub(crate) async fn start_agent(env: &Env, node: &str, registry_host: &str) -> AgentNode {
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/nodeagent");
    for file in ["serviceaccount.yaml", "rbac.yaml"] {
        let path = manifests.join(file).display().to_string();
        ok(&env.admin, &["apply", "-f", &path]).await;
    }
    let pod = format!("agent-{node}");
    apply(
        env,
        &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": NAMESPACE},
                "spec": {"nodeName": node, "serviceAccountName": "prepull-nodeagent",
                         "containers": [{"name": "agent", "image": "prepull-nodeagent"}]}})
        .to_string(),
    )
    .await;
    let uid = ok(
        &env.admin,
        &[
            "get",
            "pod",
            &pod,
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    )
    .await;
    let token = ok(
        &env.admin,
        &[
            "create",
            "token",
            "prepull-nodeagent",
            "-n",
            NAMESPACE,
            "--bound-object-kind=Pod",
            &format!("--bound-object-name={pod}"),
            &format!("--bound-object-uid={}", uid.trim()),
        ],
    )
    .await;
    let kubeconfig = env.token_kubeconfig(
        &pod,
        &env.kube.url(),
        &env.kube.pki().cluster_ca_file,
        token.trim(),
    );
    let containerd = Containerd::start(&[registry_host.to_owned()])
        .await
        .expect("containerd starts");
    let options = prepull_nodeagent::options::Options::parse_from([
        "prepull-nodeagent",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--node-name",
        node,
        "--cri-endpoint",
        &containerd.endpoint(),
        "--health-port",
        "0",
        "--status-interval-ms",
        "100",
    ]);
    let config = prepull_nodeagent::config::Config::from_options(options)
        .await
        .expect("agent config");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(prepull_nodeagent::run_until(config, async move {
        let _ = stopped.await;
    }));
    AgentNode {
        kubeconfig,
        _containerd: containerd,
        stop,
        task,
    }
}

/// An ImagePullJob for `image` on the labelled nodes, one attempt of at most 30 s per node.
fn job(name: &str, image: &str, secret: Option<&str>) -> String {
    let mut job = json!({
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
        "metadata": {"name": name, "namespace": NAMESPACE_P},
        "spec": {"image": image,
                 "selector": {"matchLabels": {LABEL: "private"}},
                 "pullPolicy": {"backoffLimit": 1, "timeoutSeconds": 30}},
    });
    if let Some(secret) = secret {
        job["spec"]["pullSecrets"] = json!([secret]);
    }
    job.to_string()
}

/// Waits (watching through kube-apiserver with `kubectl wait`) until the job has a completion
/// time, and returns its status.
async fn wait_finished(env: &Env, name: &str) -> Value {
    let object = format!("imagepulljob/{name}");
    let timeout = format!("--timeout={}s", JOB_TIMEOUT.as_secs());
    let waited = env
        .admin
        .run(&[
            "wait",
            "-n",
            NAMESPACE_P,
            "--for=jsonpath={.status.completionTime}",
            &object,
            &timeout,
        ])
        .await;
    let status = get_json(env, &["imagepulljob", name, "-n", NAMESPACE_P]).await["status"].clone();
    if let Err(err) = waited {
        panic!("{object} did not finish: {err:#}; status {status}");
    }
    status
}

async fn node_image(env: &Env, node: &str) -> Value {
    get_json(env, &["nodeimage", node]).await
}

async fn get_json(env: &Env, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&ok(&env.admin, &args).await).expect("JSON from kubectl")
}

/// The phase and message of `image`'s tag in a NodeImage's status.
fn tag_status(node_image: &Value, image: &str) -> (String, String) {
    let (name, tag) = image.rsplit_once(':').expect("image:tag");
    let entry = node_image["status"]["imageStatuses"][name]["tags"]
        .as_array()
        .and_then(|tags| tags.iter().find(|t| t["tag"] == tag))
        .unwrap_or_else(|| panic!("no status for {image}: {node_image}"));
    let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
    (text("phase"), text("message"))
}
