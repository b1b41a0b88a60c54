//! `kubectl-prepull` against a whole system of real parts: the `prepull-apiserver` binary
//! (standalone), three nodes each with its own containerd and `prepull-nodeagent`, a real
//! registry behind a slow link, a private registry and a link that answers nothing. What the
//! agents report is what containerd did, so the progress bars advance with real bytes and
//! `why` sorts the runtime's own messages into the FAQ's causes.
//!
//! With `PREPULL_CAPTURE_FRAME=FILE` set, the test also writes one frame that
//! `status --watch` printed mid-pull to FILE (`docs/capture/status-watch.sh` renders it).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use prepull_testbed::system::{Binaries, Server, start_agent};
use prepull_testbed::{
    Containerd, Kubectl, Registry, RegistryOptions, TestImage, ThrottledProxy, eventually,
    incompressible_bytes,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-prepull");
const WAIT: Duration = Duration::from_secs(90);
/// The big image's layer: random bytes, so gzip cannot shrink it.
const LAYER_BYTES: usize = 4 * 1024 * 1024;
/// The slow link (per connection): the layer takes about 4 s to reach each node.
const LINK_BYTES_PER_SECOND: usize = 1024 * 1024;
/// How long the scheduler waits for an agent to pick up a task.
const ACK_TIMEOUT_SECONDS: &str = "3";

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

async fn apply(kubectl: &Kubectl, yaml: &str) {
    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(yaml))
        .await
        .unwrap_or_else(|err| panic!("{err:#}"));
}

/// An ImagePullJob in namespace `apps` for `image` on `nodes`, failing on the first error.
fn job(name: &str, image: &str, nodes: &[&str], timeout_seconds: u32) -> String {
    format!(
        "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: {name}
  namespace: apps
spec:
  image: {image}
  parallelism: {parallelism}
  selector:
    names: [{names}]
  pullPolicy:
    backoffLimit: 0
    timeoutSeconds: {timeout_seconds}
  completionPolicy:
    type: Always
",
        parallelism = nodes.len(),
        names = nodes.join(", ")
    )
}

/// Waits until job `name` completed, as `status -o json` reports it.
async fn wait_completed(kubeconfig: &Path, name: &str) -> Value {
    eventually("the job completes", WAIT, || async {
        let out = plugin(kubeconfig, &["status", name, "-n", "apps", "-o", "json"]).await?;
        let json: Value = serde_json::from_str(&out)?;
        anyhow::ensure!(json["completed"] == true, "not completed yet: {out}");
        Ok(json)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bars_follow_a_throttled_pull_and_why_names_each_real_cause() {
    let dir = tempfile::tempdir().unwrap();
    let binaries = Binaries::beside_current_exe(true).await.expect("binaries");
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let big = TestImage::with_payload(&incompressible_bytes(LAYER_BYTES, 7)).expect("image");
    let pushed = registry
        .push_image("team/big", "v1", &big)
        .await
        .expect("push");
    let slow = ThrottledProxy::start(&registry.host_port(), LINK_BYTES_PER_SECOND)
        .await
        .expect("slow link");
    let dead = ThrottledProxy::start(&registry.host_port(), LINK_BYTES_PER_SECOND)
        .await
        .expect("dead link");
    dead.pause_after(0);
    let private = Registry::start(RegistryOptions::private("team", "s3cret"))
        .await
        .expect("private registry");
    let secret = private
        .push_test_image("team/secret", "v1")
        .await
        .expect("push private");
    let server = Server::start(
        &binaries.apiserver,
        &dir.path().join("server"),
        &[
            "--scheduler-ack-timeout-seconds".into(),
            ACK_TIMEOUT_SECONDS.into(),
        ],
        dir.path().join("apiserver.log"),
    )
    .await
    .expect("server");
    let kc = server.kubeconfig();
    let k = &server.kubectl;
    let mut nodes = Vec::new();
    for name in ["node-1", "node-2", "node-3"] {
        let containerd = Containerd::start(&[
            registry.host_port(),
            slow.host_port(),
            dead.host_port(),
            private.host_port(),
        ])
        .await
        .expect("containerd");
        let agent = start_agent(&binaries.agent, &server, dir.path(), name, &[], &containerd)
            .await
            .expect("agent");
        nodes.push((containerd, agent));
    }

    // One big image through the slow link on two nodes; two watches follow it.
    let big_image = pushed
        .reference
        .replace(&registry.host_port(), &slow.host_port());
    apply(k, &job("big", &big_image, &["node-1", "node-2"], 120)).await;
    let watch = |json: bool| {
        let mut command = Command::new(PLUGIN);
        command
            .args([
                "status",
                "big",
                "-n",
                "apps",
                "--watch",
                "--interval",
                "0.3",
            ])
            .arg("--kubeconfig")
            .arg(&kc)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        if json {
            command.args(["-o", "json"]);
        }
        command.spawn().expect("the plugin starts")
    };
    let (mut json_watch, mut text_watch) = (watch(true), watch(false));
    let json_lines = BufReader::new(json_watch.stdout.take().unwrap()).lines();
    let text_lines = BufReader::new(text_watch.stdout.take().unwrap()).lines();
    let (documents, frames) = tokio::time::timeout(WAIT, async {
        let documents = async {
            let mut lines = json_lines;
            let mut documents = Vec::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                documents.push(serde_json::from_str::<Value>(&line).expect("one JSON per line"));
            }
            documents
        };
        let frames = async {
            let mut lines = text_lines;
            let mut frames = vec![String::new()];
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.is_empty() {
                    frames.push(String::new());
                } else {
                    let frame = frames.last_mut().unwrap();
                    frame.push_str(&line);
                    frame.push('\n');
                }
            }
            frames
        };
        tokio::join!(documents, frames)
    })
    .await
    .expect("both watches return once the job completed");
    assert!(json_watch.wait().await.unwrap().success());
    assert!(text_watch.wait().await.unwrap().success());

    // Each node's progress, in the order the watch saw it: rising through values strictly
    // between 0 and 100, ending at 100 with the pull succeeded.
    let last = documents.last().expect("the watch printed something");
    assert_eq!(last["completed"], true, "{last}");
    assert_eq!(last["overallPercent"], 100, "{last}");
    for node in ["node-1", "node-2"] {
        let seen: Vec<(String, i64)> = documents
            .iter()
            .filter_map(|d| {
                let pull = d["pulls"].as_array()?.iter().find(|p| p["node"] == node)?;
                Some((
                    pull["phase"].as_str()?.to_owned(),
                    pull["progress"].as_i64()?,
                ))
            })
            .collect();
        let between: Vec<i64> = seen
            .iter()
            .filter(|(phase, p)| phase == "Pulling" && *p > 0 && *p < 100)
            .map(|(_, p)| *p)
            .collect();
        let mut distinct = between.clone();
        distinct.dedup();
        assert!(
            distinct.len() >= 2,
            "{node}: the bar should advance through several values: {seen:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0].1 <= w[1].1),
            "{node}: progress never goes back: {seen:?}"
        );
        assert_eq!(
            seen.last().map(|(phase, p)| (phase.as_str(), *p)),
            Some(("Succeeded", 100)),
            "{node}: {seen:?}"
        );
    }
    // The text watch drew the same pull as bars with a rate and an ETA.
    let mid = frames
        .iter()
        .find(|f| {
            f.lines()
                .any(|l| l.starts_with("node-") && l.contains("Pulling") && l.contains("%/s"))
                && !f.contains(" 0%")
        })
        .unwrap_or_else(|| panic!("no frame mid-pull with a rate:\n{}", frames.join("\n")));
    assert!(
        mid.starts_with("imagepulljob apps/big: running, desired 2"),
        "{mid}"
    );
    assert!(mid.contains("[#"), "a bar partly filled: {mid}");
    if let Ok(path) = std::env::var("PREPULL_CAPTURE_FRAME") {
        std::fs::write(&path, mid).expect("writing the captured frame");
    }
    let done = frames.iter().rev().find(|f| !f.is_empty()).unwrap();
    assert!(
        done.contains("2/2 pulls done [########################]"),
        "{done}"
    );

    // The FAQ's causes, each from what the runtime or the scheduler really said.
    let missing = format!("{}/team/nope:v1", registry.host_port());
    apply(k, &job("missing", &missing, &["node-1"], 60)).await;
    apply(k, &job("auth", &secret.reference, &["node-2"], 60)).await;
    let stuck = pushed
        .reference
        .replace(&registry.host_port(), &dead.host_port());
    apply(k, &job("timeout", &stuck, &["node-3"], 2)).await;
    apply(k, &job("ghost", &missing, &["ghost"], 60)).await;
    for (name, cause, title, node) in [
        ("missing", "MissingImage", "image not found", "node-1"),
        ("auth", "Auth", "registry authentication", "node-2"),
        ("timeout", "Timeout", "timeout", "node-3"),
    ] {
        let status = wait_completed(&kc, name).await;
        assert_eq!(status["pulls"][0]["phase"], "Failed", "{status}");
        let why: Value = serde_json::from_str(
            &plugin(&kc, &["why", name, "-n", "apps", "-o", "json"])
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(why["causes"][0]["cause"], cause, "{name}: {why}");
        assert_eq!(why["causes"][0]["nodes"][0], node, "{name}: {why}");
        let text = plugin(&kc, &["why", name, "-n", "apps"]).await.unwrap();
        assert!(
            text.contains(&format!("{title} (1 node): {node}")),
            "{name}: {text}"
        );
    }
    let why = plugin(&kc, &["why", "ghost", "-n", "apps"]).await.unwrap();
    assert!(why.contains("no such node (1 node): ghost"), "{why}");

    // A node whose agent is gone: the scheduler fails its task after the ack timeout.
    nodes[2].1.kill().await;
    apply(k, &job("silent", &pushed.reference, &["node-3"], 60)).await;
    wait_completed(&kc, "silent").await;
    let why = plugin(&kc, &["why", "silent", "-n", "apps"]).await.unwrap();
    assert!(
        why.contains("node not responding (1 node): node-3"),
        "{why}"
    );
    assert!(why.contains("/healthz"), "the advice: {why}");
}
