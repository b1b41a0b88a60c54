//! Concurrency, cancellation, restarts and node identity, against real containerd, registries
//! and the real API server.

mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use prepull_api::node_image::ImagePullPhase;
use prepull_api::{NodeImage, NodeImageSpec};
use prepull_testbed::{Containerd, HangingRegistry, Registry, RegistryOptions};
use serde_json::json;
use support::{Agent, Server, api_for, tag_status, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);

fn agent_args<'a>(kubeconfig: &'a str, node: &'a str, endpoint: &'a str) -> Vec<&'a str> {
    vec![
        "--kubeconfig",
        kubeconfig,
        "--node-name",
        node,
        "--cri-endpoint",
        endpoint,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_tasks_with_two_slots_never_have_more_than_two_pulling_and_each_attempt_ends_at_its_timeout()
 {
    let server = Server::start().await;
    let hanging = HangingRegistry::start().await.expect("hanging registry");
    let containerd = Containerd::start(&[hanging.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let endpoint = containerd.endpoint();
    let mut args = agent_args(kubeconfig.to_str().unwrap(), "n1", &endpoint);
    args.extend(["--max-concurrent-pulls", "2"]);
    let _agent = Agent::start(&args).await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;

    let image = format!("{}/team/slow", hanging.host_port());
    let tags: Vec<_> = (1..=6)
        .map(|i| {
            json!({"tag": format!("v{i}"), "createdAt": "2026-01-01T00:00:00Z",
                   "pullPolicy": {"ttlSecondsAfterFinished": 300, "timeoutSeconds": 2, "backoffLimit": 0}})
        })
        .collect();
    let patch = json!({"spec": {"images": {&image: {"tags": tags}}}});
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

    // Every status write is seen by this watch: the invariant must hold in each.
    let mut events = watcher::watcher(
        admin.clone(),
        watcher::Config::default().fields("metadata.name=n1"),
    )
    .boxed();
    let mut max_pulling = 0;
    let mut saw_waiting_while_full = false;
    let finished = tokio::time::timeout(PULL_TIMEOUT, async {
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) =
                event.expect("watch event")
            else {
                continue;
            };
            let Some(status) = object.status else {
                continue;
            };
            let tags = status
                .image_statuses
                .get(&image)
                .map(|s| s.tags.clone())
                .unwrap_or_default();
            let pulling = tags
                .iter()
                .filter(|t| t.phase == ImagePullPhase::Pulling)
                .count();
            let waiting = tags
                .iter()
                .filter(|t| t.phase == ImagePullPhase::Waiting)
                .count();
            max_pulling = max_pulling.max(pulling);
            saw_waiting_while_full |= pulling == 2 && waiting > 0;
            if tags.len() == 6 && tags.iter().all(|t| t.phase == ImagePullPhase::Failed) {
                return tags;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("all six tasks finish");
    assert!(max_pulling <= 2, "{max_pulling} were Pulling at once");
    assert!(
        saw_waiting_while_full,
        "never saw 2 Pulling with others Waiting"
    );
    for tag in &finished {
        assert!(tag.message.contains("timeoutSeconds"), "{}", tag.message);
        let (Some(start), Some(end)) = (&tag.start_time, &tag.completion_time) else {
            panic!("times missing: {tag:?}");
        };
        // The one attempt (backoffLimit 0) ends at its 2 s deadline, not before and not much
        // later; times have second resolution.
        let seconds = end.0.as_second() - start.0.as_second();
        assert!((2..=4).contains(&seconds), "{seconds} s: {tag:?}");
    }
    assert!(hanging.connections_accepted() >= 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_seconds_ends_a_pull_the_registry_never_answers() {
    let server = Server::start().await;
    let hanging = HangingRegistry::start().await.expect("hanging registry");
    let containerd = Containerd::start(&[hanging.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let endpoint = containerd.endpoint();
    let _agent = Agent::start(&agent_args(kubeconfig.to_str().unwrap(), "n1", &endpoint)).await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;

    // One attempt could hang for timeoutSeconds (600 s); the whole pull is bounded by 3 s.
    let image = format!("{}/team/hangs", hanging.host_port());
    server
        .add_tag(
            "n1",
            &image,
            "v1",
            json!({"pullPolicy": {"ttlSecondsAfterFinished": 300, "timeoutSeconds": 600,
                                  "activeDeadlineSeconds": 3}}),
        )
        .await;
    let ended = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(
        ended.message.contains("activeDeadlineSeconds (3s)"),
        "{}",
        ended.message
    );
    let (Some(start), Some(end)) = (&ended.start_time, &ended.completion_time) else {
        panic!("times missing: {ended:?}");
    };
    let took = end.0.as_second() - start.0.as_second();
    assert!((2..=30).contains(&took), "the pull took {took}s: {ended:?}");
    assert!(
        hanging.connections_accepted() >= 1,
        "containerd never contacted the registry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_tag_mid_pull_cancels_it_and_frees_its_slot() {
    let server = Server::start().await;
    let hanging = HangingRegistry::start().await.expect("hanging registry");
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let pushed = registry
        .push_test_image("team/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[hanging.host_port(), registry.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let endpoint = containerd.endpoint();
    let mut args = agent_args(kubeconfig.to_str().unwrap(), "n1", &endpoint);
    args.extend(["--max-concurrent-pulls", "1"]);
    let _agent = Agent::start(&args).await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;

    let slow = format!("{}/team/slow", hanging.host_port());
    server
        .add_tag(
            "n1",
            &slow,
            "v1",
            json!({"pullPolicy": {"ttlSecondsAfterFinished": 300, "timeoutSeconds": 600}}),
        )
        .await;
    wait_for_phase(
        &admin,
        "n1",
        &slow,
        "v1",
        ImagePullPhase::Pulling,
        PULL_TIMEOUT,
    )
    .await;
    let remove = json!({"spec": {"images": {&slow: null}}});
    server
        .kubectl
        .run(&[
            "patch",
            "nodeimage",
            "n1",
            "--type=merge",
            "-p",
            &remove.to_string(),
        ])
        .await
        .expect("remove the tag");
    let image = pushed.reference.rsplit_once(':').unwrap().0.to_owned();
    let started = tokio::time::Instant::now();
    server.add_tag("n1", &image, "v1", json!({})).await;
    // The only slot was held by the hanging pull: this succeeds only if it was cancelled.
    wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(30));
    let status = admin.get("n1").await.expect("get").status.expect("status");
    assert!(!status.image_statuses.contains_key(&slow), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_adopts_finished_tasks_instead_of_pulling_again() {
    let server = Server::start().await;
    let mut registry = Registry::start(RegistryOptions::default())
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
    let endpoint = containerd.endpoint();
    let args = agent_args(kubeconfig.to_str().unwrap(), "n1", &endpoint);
    let agent = Agent::start(&args).await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;
    let image = pushed.reference.rsplit_once(':').unwrap().0.to_owned();
    server
        .add_tag("n1", &image, "v1", json!({"imagePullPolicy": "Always"}))
        .await;
    let before = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    agent.stop().await;
    // An Always re-pull would now fail.
    registry.stop().await.expect("stop the registry");

    let _agent = Agent::start(&args).await;
    // Another image: a merge patch replaces the tag list of the image it names.
    let marker_image = format!("{}/team/marker", registry.host_port());
    server
        .add_tag(
            "n1",
            &marker_image,
            "v1",
            json!({"imagePullPolicy": "Always",
                   "pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 0}}),
        )
        .await;
    wait_for_phase(
        &admin,
        "n1",
        &marker_image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    let after = tag_status(&admin, "n1", &image, "v1")
        .await
        .expect("get")
        .expect("v1 still reported");
    assert_eq!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_identity_creates_only_its_own_nodeimage_and_cannot_read_or_patch_another_nodes() {
    let server = Server::start().await;
    let as_a = api_for(&server.node_kubeconfig("a")).await;
    let as_b = api_for(&server.node_kubeconfig("b")).await;
    let empty = |name: &str| NodeImage::new(name, NodeImageSpec::default());
    as_a.create(&PostParams::default(), &empty("a"))
        .await
        .expect("a creates its own NodeImage");
    let create = as_a
        .create(&PostParams::default(), &empty("b"))
        .await
        .expect_err("a creates b's NodeImage");
    assert!(
        matches!(&create, kube::Error::Api(s) if s.code == 403 && s.message.contains("may only create its own NodeImage")),
        "{create}"
    );
    as_b.create(&PostParams::default(), &empty("b"))
        .await
        .expect("b creates its own NodeImage");
    as_a.get("a").await.expect("a reads its own NodeImage");
    let read = as_a.get("b").await.expect_err("a reads b");
    assert!(
        matches!(&read, kube::Error::Api(s) if s.code == 403),
        "{read}"
    );
    let patch = json!({"status": {"desired": 0}});
    let write = as_a
        .patch_status("b", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect_err("a patches b");
    assert!(
        matches!(&write, kube::Error::Api(s) if s.code == 403),
        "{write}"
    );
    as_a.patch_status("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("a patches its own status");
}
