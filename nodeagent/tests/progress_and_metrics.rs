//! What the agent tells about its pulls besides the phases: containerd's byte progress in the
//! tag status while a pull runs, and the Prometheus metrics on its health port. Against real
//! containerd, a real registry (behind a slow link for progress) and the real API server.

mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;
use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{
    Containerd, Registry, RegistryOptions, TestImage, ThrottledProxy, assert_eventually,
    free_loopback_port, http_get,
};
use serde_json::json;
use support::{Agent, Server, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);
/// The layer of the big image: random bytes, so gzip cannot shrink it.
const LAYER_BYTES: usize = 3 * 1024 * 1024;
/// The slow link: the layer takes about 3 s to arrive.
const LINK_BYTES_PER_SECOND: usize = 1024 * 1024;

/// `len` bytes that do not compress (xorshift).
fn incompressible(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_through_a_slow_link_reports_byte_progress_between_0_and_100_before_succeeding() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let big = TestImage::with_payload(&incompressible(LAYER_BYTES)).expect("image");
    assert!(big.layer.bytes.len() >= LAYER_BYTES, "the layer stays big");
    let pushed = registry
        .push_image("team/big", "v1", &big)
        .await
        .expect("push");
    let link = ThrottledProxy::start(&registry.host_port(), LINK_BYTES_PER_SECOND)
        .await
        .expect("proxy");
    let containerd = Containerd::start(&[link.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
    ])
    .await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;

    let mut events = watcher::watcher(
        admin.clone(),
        watcher::Config::default().fields("metadata.name=n1"),
    )
    .boxed();
    let image = format!("{}/team/big", link.host_port());
    server.add_tag("n1", &image, "v1", json!({})).await;
    // Every status write is seen by this watch.
    let mut pulling_progress = Vec::new();
    let finished = tokio::time::timeout(PULL_TIMEOUT, async {
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) =
                event.expect("watch event")
            else {
                continue;
            };
            let Some(tag) = object
                .status
                .and_then(|s| s.image_statuses.get(&image).cloned())
                .and_then(|s| s.tags.into_iter().next())
            else {
                continue;
            };
            match tag.phase {
                ImagePullPhase::Pulling => pulling_progress.push(tag.progress),
                ImagePullPhase::Succeeded | ImagePullPhase::Failed => return tag,
                _ => {}
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the pull finishes");
    eprintln!("progress written while Pulling: {pulling_progress:?}");
    assert_eq!(finished.phase, ImagePullPhase::Succeeded, "{finished:?}");
    assert_eq!(finished.image_id, pushed.config_digest);
    assert_eq!(finished.progress, 100);
    assert!(
        pulling_progress.iter().any(|p| (1..100).contains(p)),
        "no progress between 0 and 100 while Pulling: {pulling_progress:?}"
    );
    assert!(
        pulling_progress.is_sorted(),
        "progress went back: {pulling_progress:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_pulls_by_result_tasks_by_phase_status_writes_and_runtime_errors() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let pushed = registry
        .push_test_image("team/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let port = free_loopback_port().expect("a free port");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
        "--health-port",
        &port.to_string(),
    ])
    .await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;
    let image = pushed.reference.rsplit_once(':').expect("name:tag").0;
    let tags = json!([
        {"tag": "v1", "createdAt": "2026-01-01T00:00:00Z",
         "pullPolicy": {"ttlSecondsAfterFinished": 300}},
        {"tag": "missing", "createdAt": "2026-01-01T00:00:00Z",
         "pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 0}},
    ]);
    let patch = json!({"spec": {"images": {image: {"tags": tags}}}});
    server
        .kubectl
        .run(&[
            "patch",
            "nodeimage",
            "n1",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .await
        .expect("kubectl patch");
    for (tag, phase) in [
        ("v1", ImagePullPhase::Succeeded),
        ("missing", ImagePullPhase::Failed),
    ] {
        wait_for_phase(&admin, "n1", image, tag, phase, PULL_TIMEOUT).await;
    }

    let expected = [
        "prepull_nodeagent_pulls_total{result=\"succeeded\"} 1",
        "prepull_nodeagent_pulls_total{result=\"failed\"} 1",
        "prepull_nodeagent_pull_duration_seconds_count{result=\"succeeded\"} 1",
        "prepull_nodeagent_tasks{phase=\"Succeeded\"} 1",
        "prepull_nodeagent_tasks{phase=\"Failed\"} 1",
        "prepull_nodeagent_tasks{phase=\"Pulling\"} 0",
        "prepull_nodeagent_cri_errors_total{call=\"PullImage\"} 1",
    ];
    let text = assert_eventually(
        "the metrics show both pulls",
        Duration::from_secs(10),
        || async {
            let answer = http_get(port, "/metrics", Duration::from_secs(2)).await?;
            anyhow::ensure!(answer.status == 200, "status {}", answer.status);
            match expected.iter().find(|line| !answer.body.contains(*line)) {
                Some(missing) => anyhow::bail!("{missing} missing from:\n{}", answer.body),
                None => Ok(answer.body),
            }
        },
    )
    .await;
    let writes: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("prepull_nodeagent_status_writes_total{result=\"ok\"} "))
        .and_then(|value| value.trim().parse().ok())
        .expect("a count of successful status writes");
    assert!(writes >= 2, "{writes} status writes for two pulls");
    let health = http_get(port, "/healthz", Duration::from_secs(2))
        .await
        .expect("healthz");
    assert_eq!((health.status, health.body.trim()), (200, "ok"));
}
