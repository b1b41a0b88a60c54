//! `kubectl-prepull` against the real server (standalone, in this process, on the embedded
//! store, with its scheduler): the scheduler puts the job's tasks on the nodes' NodeImages and
//! the test writes the nodes' status as agents do (`nodeimages/status`), then reads what the
//! plugin prints: progress bars that advance under `--watch`, `why` naming each cause,
//! `nodes`, an ImageListPullJob, `-o json`, `--context`, `--kubeconfig`, `-n`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use prepull_apiserver::config::Config;
use prepull_apiserver::options::Options;
use prepull_testbed::{Kubectl, eventually, free_loopback_port};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-prepull");
const WAIT: Duration = Duration::from_secs(30);
const IMAGE: &str = "registry.example:5000/demo/hello";
const NODES: [&str; 3] = ["node-1", "node-2", "node-3"];

/// The plugin's stdout, or an error with its stderr.
async fn plugin(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::time::timeout(
        WAIT,
        Command::new(PLUGIN)
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the plugin took too long")??;
    if !out.status.success() {
        bail!(
            "kubectl-prepull {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// `text` with every run of whitespace made one space.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    plugin(kubeconfig, args)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

async fn kubectl(kubectl: &Kubectl, args: &[&str], stdin: Option<&str>) -> String {
    kubectl
        .run_with_stdin(args, stdin)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

/// Writes one tag's status on a node as its agent would.
async fn report(k: &Kubectl, node: &str, tag: &str, status: Value) {
    let mut entry = json!({"tag": tag});
    entry
        .as_object_mut()
        .unwrap()
        .extend(status.as_object().unwrap().clone());
    // A merge patch replaces the tags list: carry the node's other tags along.
    let current: Value =
        serde_json::from_str(&kubectl(k, &["get", "nodeimage", node, "-o", "json"], None).await)
            .unwrap();
    let mut tags: Vec<Value> = current
        .pointer(&format!(
            "/status/imageStatuses/{}/tags",
            IMAGE.replace('/', "~1")
        ))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    tags.retain(|t| t["tag"] != tag);
    tags.push(entry);
    let patch = json!({"status": {"imageStatuses": {IMAGE: {"tags": tags}}}});
    kubectl(
        k,
        &[
            "patch",
            "nodeimage",
            node,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ],
        None,
    )
    .await;
}

fn seconds_ago(seconds: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds)).to_string()
}

/// Waits until every node's NodeImage carries the job's task for `tag`.
async fn wait_for_tasks(k: &Kubectl, tag: &str) {
    eventually(
        "the scheduler puts the tasks on the nodes",
        WAIT,
        || async {
            for node in NODES {
                let spec = k.run(&["get", "nodeimage", node, "-o", "json"]).await?;
                let spec: Value = serde_json::from_str(&spec)?;
                let tags = spec["spec"]["images"][IMAGE]["tags"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if !tags.iter().any(|t| t["tag"] == tag) {
                    bail!("{node} has no task for {tag} yet");
                }
            }
            Ok(())
        },
    )
    .await
    .unwrap();
}

struct Server {
    kubeconfig: PathBuf,
    kubectl: Kubectl,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_loopback_port().unwrap();
    let config = Config::from_options(Options::parse_from([
        "prepull-apiserver",
        "--standalone",
        "--data-dir",
        &dir.path().display().to_string(),
        "--secure-port",
        &port.to_string(),
        "--shutdown-timeout-seconds",
        "5",
    ]))
    .expect("valid config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(prepull_apiserver::run_until(config, async move {
        let _ = stopped.await;
    }));
    let kubeconfig = dir.path().join("kubeconfig");
    let kubectl = Kubectl::new(&kubeconfig);
    eventually("the server is ready", WAIT, || {
        let kubectl = kubectl.clone();
        async move {
            let out = kubectl.run(&["get", "--raw", "/readyz"]).await?;
            anyhow::ensure!(out.trim() == "ok", "{out}");
            Ok(())
        }
    })
    .await
    .unwrap();
    Server {
        kubeconfig,
        kubectl,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_watch_why_and_nodes_follow_a_job_on_a_real_server() {
    let server = start_server().await;
    let (kc, k) = (server.kubeconfig.as_path(), &server.kubectl);
    for node in NODES {
        kubectl(
            k,
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: {node}\n"
            )),
        )
        .await;
    }
    kubectl(
        k,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: pull-hello
  namespace: apps
spec:
  image: {IMAGE}:v1
  parallelism: 3
  completionPolicy:
    type: Always
"
        )),
    )
    .await;
    wait_for_tasks(k, "v1").await;

    // Nothing reported yet: every node waits.
    let text = ok(kc, &["status", "pull-hello", "-n", "apps"]).await;
    assert!(
        text.starts_with("imagepulljob apps/pull-hello: running, desired 3"),
        "{text}"
    );
    assert_eq!(text.matches("Waiting").count(), 3, "{text}");

    // --watch redraws as the pulls advance, and returns once the job completes.
    let mut watch = Command::new(PLUGIN)
        .args([
            "status",
            "pull-hello",
            "-n",
            "apps",
            "--watch",
            "--interval",
            "0.2",
        ])
        .arg("--kubeconfig")
        .arg(kc)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut wait_for_line = async |wanted: &str| {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push_str(&line);
                seen.push('\n');
                // Columns are as wide as their widest cell: compare words, not spaces.
                if squeeze(&line).contains(&squeeze(wanted)) {
                    return true;
                }
            }
            false
        })
        .await;
        match found {
            Ok(true) => {}
            Ok(false) => panic!("the watch ended before {wanted:?}:\n{seen}"),
            Err(_) => panic!("no {wanted:?} within {WAIT:?}; the watch printed:\n{seen}"),
        }
    };
    for (progress, bar) in [
        (25, "[######------------------]  25%"),
        (50, "[############------------]  50%"),
    ] {
        report(
            k,
            "node-1",
            "v1",
            json!({"phase": "Pulling", "progress": progress, "startTime": seconds_ago(20), "version": 1}),
        )
        .await;
        wait_for_line(&format!("node-1  Pulling    {bar}")).await;
    }
    report(
        k,
        "node-2",
        "v1",
        json!({"phase": "Failed", "startTime": seconds_ago(5), "completionTime": seconds_ago(1), "version": 1,
               "message": format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}:v1\": failed to resolve reference \"{IMAGE}:v1\": {IMAGE}:v1: not found")}),
    )
    .await;
    report(
        k,
        "node-3",
        "v1",
        json!({"phase": "Failed", "startTime": seconds_ago(5), "completionTime": seconds_ago(1), "version": 1,
               "message": "rpc error: code = Unknown desc = failed to pull and unpack image: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized"}),
    )
    .await;
    wait_for_line("node-3  Failed").await;
    report(
        k,
        "node-1",
        "v1",
        json!({"phase": "Succeeded", "progress": 100, "startTime": seconds_ago(20), "completionTime": seconds_ago(0), "version": 1, "imageID": "sha256:0123"}),
    )
    .await;
    let exit = tokio::time::timeout(WAIT, watch.wait())
        .await
        .expect("--watch returns once the job completed")
        .unwrap();
    assert!(exit.success());
    drop(lines);

    let text = ok(kc, &["status", "imagepulljob/pull-hello", "-n", "apps"]).await;
    assert!(
        text.starts_with(
            "imagepulljob apps/pull-hello: completed, desired 3, active 0, succeeded 1, failed 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("node-1  Succeeded  [########################] 100%"),
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&ok(kc, &["status", "pull-hello", "-n", "apps", "-o", "json"]).await)
            .unwrap();
    assert_eq!(json["completed"], true);
    assert_eq!(json["overallPercent"], 100);
    let phases: Vec<&str> = json["pulls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["Succeeded", "Failed", "Failed"]);

    // why: one group per cause, with the FAQ's advice.
    let why = ok(kc, &["why", "pull-hello", "-n", "apps"]).await;
    assert!(why.contains("image not found (1 node): node-2"), "{why}");
    assert!(
        why.contains("registry authentication (1 node): node-3"),
        "{why}"
    );
    assert!(why.contains("spec.pullSecrets"), "{why}");
    let why: Value =
        serde_json::from_str(&ok(kc, &["why", "pull-hello", "-n", "apps", "-o", "json"]).await)
            .unwrap();
    let causes: Vec<(&str, &str)> = why["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cause"].as_str().unwrap(),
                c["nodes"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(causes, [("MissingImage", "node-2"), ("Auth", "node-3")]);

    // A job naming a node that does not exist: why says so.
    kubectl(
        k,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: pull-ghost
  namespace: apps
spec:
  image: {IMAGE}:v1
  selector:
    names: [node-1, ghost]
  completionPolicy:
    type: Always
"
        )),
    )
    .await;
    let why = ok(kc, &["why", "pull-ghost", "-n", "apps"]).await;
    assert!(why.contains("no such node (1 node): ghost"), "{why}");

    // nodes: which nodes hold the image, with the tags' jobs.
    let nodes = ok(kc, &["nodes", &format!("{IMAGE}:v1")]).await;
    assert!(
        nodes.contains(
            "node-1  registry.example:5000/demo/hello  v1   Succeeded  100%      apps/pull-hello"
        ),
        "{nodes}"
    );
    let rows: Value = serde_json::from_str(&ok(kc, &["nodes", IMAGE, "-o", "json"]).await).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    assert_eq!(rows[0]["imageID"], "sha256:0123");
    assert_eq!(
        ok(kc, &["nodes", "other/image"]).await,
        "no node holds or pulls other/image\n"
    );

    // An ImageListPullJob: its child jobs' pulls, one row per node and image.
    kubectl(
        k,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: apps.kruise.io/v1alpha1
kind: ImageListPullJob
metadata:
  name: pull-list
  namespace: apps
spec:
  images: [\"{IMAGE}:v2\", \"{IMAGE}:v3\"]
  parallelism: 3
  completionPolicy:
    type: Always
"
        )),
    )
    .await;
    wait_for_tasks(k, "v3").await;
    wait_for_tasks(k, "v2").await;
    report(
        k,
        "node-2",
        "v3",
        json!({"phase": "Failed", "version": 1, "message": "pull attempt 3: Timeout expired"}),
    )
    .await;
    let text = ok(kc, &["status", "pull-list", "-n", "apps"]).await;
    assert!(
        text.starts_with("imagelistpulljob apps/pull-list: running"),
        "{text}"
    );
    assert!(
        text.contains(&format!("node-3  {IMAGE}:v3  Waiting")),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("node-")).count(),
        6,
        "{text}"
    );
    let why = ok(kc, &["why", "imagelistpulljob/pull-list", "-n", "apps"]).await;
    assert!(
        why.contains(&format!("timeout (1 node): node-2 ({IMAGE}:v3)")),
        "{why}"
    );

    // Connection flags: the kubeconfig's context by name; a wrong one, a wrong namespace.
    let config: Value =
        serde_json::from_str(&kubectl(k, &["config", "view", "-o", "json"], None).await).unwrap();
    let context = config["current-context"].as_str().unwrap().to_string();
    ok(
        kc,
        &["status", "pull-hello", "-n", "apps", "--context", &context],
    )
    .await;
    let err = plugin(kc, &["status", "pull-hello", "--context", "nope"])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("nope"), "{err:#}");
    let err = plugin(kc, &["status", "pull-hello"]).await.unwrap_err();
    assert!(
        format!("{err:#}").contains(
            "no imagepulljob or imagelistpulljob \"pull-hello\" in namespace \"default\""
        ),
        "{err:#}"
    );

    let Server { stop, task, .. } = server;
    let _ = stop.unwrap().send(());
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// The krew manifest installs this binary under the plugin's name.
#[test]
fn the_krew_manifest_names_this_binary() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/krew/prepull.yaml")).unwrap();
    let manifest: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["metadata"]["name"], "prepull");
    let binary = Path::new(PLUGIN).file_name().unwrap().to_str().unwrap();
    for platform in manifest["spec"]["platforms"].as_array().unwrap() {
        assert_eq!(platform["bin"], binary);
        assert!(
            platform["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["from"] == binary)
        );
        assert_eq!(platform["sha256"].as_str().unwrap().len(), 64);
    }
    assert!(manifest["spec"]["shortDescription"].as_str().unwrap().len() <= 255);
}
