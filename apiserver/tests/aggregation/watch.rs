//! `kubectl get -w` through kube-apiserver: the aggregator streams our watch events.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Env, apply, ok};

/// How long the scheduler may take to count the new node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

/// A Never job whose selector matches no node shows `desired 0`; a matching Node becomes Ready
/// (so it gets its NodeImage) and the running watch prints `desired 1`.
pub async fn a_watch_through_kube_apiserver_streams_status_changes(env: &Env) {
    let _ = env.admin.run(&["create", "namespace", "team-w"]).await;
    apply(
        env,
        r#"{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": "pull", "namespace": "team-w"},
            "spec": {"image": "registry.invalid/app:1",
                     "selector": {"matchLabels": {"prepull-test": "watch"}},
                     "completionPolicy": {"type": "Never"}}}"#,
    )
    .await;
    let mut watch = env
        .admin
        .command()
        .args([
            "get",
            "imagepulljobs",
            "-n",
            "team-w",
            "-w",
            "--no-headers",
            "-o",
            "custom-columns=NAME:.metadata.name,DESIRED:.status.desired",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl starts");
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(STATUS_TIMEOUT, lines.next_line())
        .await
        .expect("the watch lists the job")
        .unwrap()
        .expect("a first line");
    assert!(first.starts_with("pull"), "{first}");
    assert!(
        !first.ends_with(" 1"),
        "the job counts no node yet: {first}"
    );

    // A matching Node of the main cluster, Ready for long enough: it gets its NodeImage and
    // the scheduler counts it.
    apply(
        env,
        r#"{"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "watch-node", "labels": {"prepull-test": "watch"}}}"#,
    )
    .await;
    ok(
        &env.admin,
        &[
            "patch",
            "node",
            "watch-node",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":"2026-01-01T00:00:00Z","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#,
        ],
    )
    .await;
    let mut seen = vec![first];
    let streamed = tokio::time::timeout(STATUS_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.split_whitespace().collect::<Vec<_>>() == ["pull", "1"];
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        streamed,
        "the watch never showed desired 1; it printed {seen:?}"
    );
    let _ = watch.kill().await;
}
