//! Stall detection against real containerd, a real registry behind a link the test controls,
//! and the real API server: a download that stops halfway is given up with `no bytes received
//! for 3s` (the period an ImagePullJob's `prepull.io/stall-timeout-seconds` annotation asks
//! for), retried, and succeeds once the link resumes; a slow download that keeps moving is
//! never cut, even with a stall period of 2 s. The period is set with `--stall-timeout-seconds`
//! (120 s by default).
//!
//! containerd 1.6 reports a download's bytes in steps of about 1 MiB (seen here: at 1 MiB/s a
//! 1 s period cut a moving pull), so a period must be longer than 1 MiB takes at the slowest
//! rate that still counts as moving.

mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;
use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{
    Containerd, Registry, RegistryOptions, TestImage, ThrottledProxy, assert_eventually,
    free_loopback_port, http_get, incompressible_bytes,
};
use serde_json::json;
use support::{Agent, Server, tag_status, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);
/// The layer: 6 MiB that do not compress.
const LAYER_BYTES: usize = 6 * 1024 * 1024;

/// A node pulling `team/big:v1` through a [`ThrottledProxy`] at `bytes_per_second`, giving up
/// attempts after `stall_seconds` without bytes.
struct Bed {
    server: Server,
    _registry: Registry,
    link: ThrottledProxy,
    _containerd: Containerd,
    _agent: Agent,
    image: String,
    config_digest: String,
    metrics_port: u16,
}

impl Bed {
    async fn start(bytes_per_second: usize, stall_seconds: &str) -> Bed {
        let server = Server::start().await;
        let registry = Registry::start(RegistryOptions::default())
            .await
            .expect("registry");
        let big = TestImage::with_payload(&incompressible_bytes(LAYER_BYTES, 2)).expect("image");
        let pushed = registry
            .push_image("team/big", "v1", &big)
            .await
            .expect("push");
        let link = ThrottledProxy::start(&registry.host_port(), bytes_per_second)
            .await
            .expect("proxy");
        let containerd = Containerd::start(&[link.host_port()])
            .await
            .expect("containerd");
        let kubeconfig = server.node_kubeconfig("n1");
        let metrics_port = free_loopback_port().expect("a free port");
        let agent = Agent::start(&[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--node-name",
            "n1",
            "--cri-endpoint",
            &containerd.endpoint(),
            "--stall-timeout-seconds",
            stall_seconds,
            "--health-port",
            &metrics_port.to_string(),
        ])
        .await;
        wait_registered(&server.admin().await, "n1").await;
        Bed {
            server,
            _registry: registry,
            image: format!("{}/team/big", link.host_port()),
            link,
            _containerd: containerd,
            _agent: agent,
            config_digest: pushed.config_digest,
            metrics_port,
        }
    }

    /// The agent's count of stalled attempts.
    async fn stalled_attempts(&self) -> u64 {
        let answer = http_get(self.metrics_port, "/metrics", Duration::from_secs(2))
            .await
            .expect("metrics");
        answer
            .body
            .lines()
            .find_map(|line| line.strip_prefix("prepull_nodeagent_stalled_pulls_total "))
            .and_then(|value| value.trim().parse().ok())
            .expect("a stalled pulls counter")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_stops_halfway_is_given_up_retried_and_succeeds_once_the_link_resumes() {
    // The agent's own period is the default; the job asks for 3 s with its annotation, which
    // the scheduler carries to the node.
    let bed = Bed::start(4 * 1024 * 1024, "120").await;
    let admin = bed.server.admin().await;
    // Manifest and config are a few hundred bytes: the link goes silent halfway into the layer.
    bed.link.pause_after((LAYER_BYTES / 2) as u64);
    let job = format!(
        "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: big\n  \
         namespace: default\n  annotations:\n    prepull.io/stall-timeout-seconds: \"3\"\n\
         spec:\n  image: {}:v1\n",
        bed.image
    );
    bed.server
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(&job))
        .await
        .unwrap_or_else(|err| panic!("{err:#}"));

    let retrying = assert_eventually(
        "the stalled attempt is given up and retried",
        PULL_TIMEOUT,
        || async {
            let status = tag_status(&admin, "n1", &bed.image, "v1").await?;
            match status {
                Some(s) if s.message.contains("no bytes received for 3s; retrying") => Ok(s),
                other => anyhow::bail!("status is {other:?}"),
            }
        },
    )
    .await;
    assert!(bed.link.is_paused(), "the link paused before the stall");
    assert_eq!(retrying.phase, ImagePullPhase::Pulling, "{retrying:?}");
    assert!(
        (1..100).contains(&retrying.progress),
        "the first half arrived: {retrying:?}"
    );
    assert!(bed.stalled_attempts().await >= 1);

    bed.link.resume();
    let done = wait_for_phase(
        &admin,
        "n1",
        &bed.image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(done.image_id, bed.config_digest);
    assert_eq!(done.message, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_download_that_keeps_moving_is_never_cut() {
    // 6 MiB at 1 MiB/s: about 6 s of download, three times the stall period, the bytes
    // advancing about every second.
    let bed = Bed::start(1024 * 1024, "2").await;
    let admin = bed.server.admin().await;
    let mut events = watcher::watcher(
        admin.clone(),
        watcher::Config::default().fields("metadata.name=n1"),
    )
    .boxed();
    bed.server.add_tag("n1", &bed.image, "v1", json!({})).await;
    // Every status write is seen by this watch.
    let mut messages = Vec::new();
    let finished = tokio::time::timeout(PULL_TIMEOUT, async {
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) =
                event.expect("watch event")
            else {
                continue;
            };
            let Some(tag) = object
                .status
                .and_then(|s| s.image_statuses.get(&bed.image).cloned())
                .and_then(|s| s.tags.into_iter().next())
            else {
                continue;
            };
            if !tag.message.is_empty() {
                messages.push(tag.message.clone());
            }
            if matches!(
                tag.phase,
                ImagePullPhase::Succeeded | ImagePullPhase::Failed
            ) {
                return tag;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the pull finishes");
    assert_eq!(finished.phase, ImagePullPhase::Succeeded, "{finished:?}");
    assert_eq!(finished.image_id, bed.config_digest);
    assert!(messages.is_empty(), "messages while pulling: {messages:?}");
    assert_eq!(bed.stalled_attempts().await, 0);
}
