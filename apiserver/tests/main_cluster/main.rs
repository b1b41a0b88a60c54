//! Cluster mode's connection to the main cluster, against a REAL kube-apiserver (built from
//! k8s.io/kubernetes, on real etcd): Nodes drive NodeImages, Pods drive `podSelector` jobs, a
//! Lease elects the scheduler, pull secrets reach only the agent of the node that pulls, and a
//! missing Secret leaves a warning Event. One kube-apiserver is shared by every case (starting
//! one takes most of the time); each case uses its own objects.

mod credentials;
mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use prepull_apiserver::leader::Election;
use prepull_apiserver::main_cluster::{LeaseElection, LeaseTiming};
use prepull_testbed::BlackholeProxy;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use prepull_apiserver::main_cluster::job_events::{COMPLETED, PULL_IMAGE_FAILED, STARTED};
use support::{READY_DELAY, WAIT, World, event_note, with_task};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_cluster_drives_nodes_pods_leases_and_credentials() {
    let world = World::start().await;
    nodes_get_node_images_that_follow_their_labels_and_go_with_them(&world).await;
    a_pod_selector_job_targets_exactly_the_nodes_of_matching_pods(&world).await;
    a_failed_pull_and_the_end_of_the_job_are_recorded_as_events(&world).await;
    credentials::only_the_agent_of_the_pulling_node_gets_the_pull_secrets(&world).await;
    one_of_two_electors_leads_and_stopping_it_hands_over(&world).await;
    a_partitioned_leader_stops_leading_before_another_can_take_over(&world).await;
    world.stop().await;
}

/// A long time ago: Nodes Ready since then get their NodeImage without waiting.
fn long_ago() -> Option<Timestamp> {
    Some(Timestamp::now() - SignedDuration::from_hours(1))
}

async fn nodes_get_node_images_that_follow_their_labels_and_go_with_them(world: &World) {
    world
        .create_node("vk", &[("type", "virtual-kubelet")], long_ago())
        .await;
    world.create_node("not-ready", &[], None).await;
    world
        .create_node("n1", &[("zone", "a"), ("disk", "ssd")], long_ago())
        .await;
    let n1 = world
        .node_image_where("n1", "created with the Node's labels", |n| n.is_some())
        .await
        .expect("exists");
    let labels = n1.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("zone").map(String::as_str),
        Some("a"),
        "{labels:?}"
    );
    assert_eq!(labels.get("disk").map(String::as_str), Some("ssd"));
    // Nodes are handled in turn, so by now the earlier two were judged.
    assert!(world.node_image("vk").await.is_none(), "virtual-kubelet");
    assert!(world.node_image("not-ready").await.is_none(), "not Ready");

    // A Node Ready just now waits for the delay.
    let ready_at = std::time::Instant::now();
    world
        .create_node("fresh", &[], Some(Timestamp::now()))
        .await;
    let fresh = world
        .node_image_where("fresh", "created after the Ready delay", |n| n.is_some())
        .await
        .expect("exists");
    let waited = ready_at.elapsed();
    // Conditions' times are stored in whole seconds: the Ready time may read up to 1 s early.
    assert!(
        waited >= READY_DELAY - Duration::from_secs(1),
        "created after {waited:?}"
    );

    // A NodeImage deleted by hand comes back while its Node exists.
    let store = world.registry.store(prepull_api::Kind::NodeImage);
    store
        .delete(None, "fresh", &Default::default())
        .await
        .expect("delete the NodeImage");
    world
        .node_image_where("fresh", "recreated for its Node", |n| {
            n.as_ref()
                .is_some_and(|n| n.metadata.uid != fresh.metadata.uid)
        })
        .await;

    world
        .set_node_labels("n1", json!({"zone": "b", "disk": null}))
        .await;
    world
        .node_image_where("n1", "relabelled as its Node", |n| {
            n.as_ref()
                .and_then(|n| n.metadata.labels.clone())
                .is_some_and(|l| {
                    l.get("zone").map(String::as_str) == Some("b") && !l.contains_key("disk")
                })
        })
        .await;

    world.delete_node("n1").await;
    world
        .node_image_where("n1", "deleted with its Node", |n| n.is_none())
        .await;
}

async fn a_pod_selector_job_targets_exactly_the_nodes_of_matching_pods(world: &World) {
    for name in ["p1", "p2", "p3"] {
        world.create_node(name, &[], long_ago()).await;
    }
    for name in ["p1", "p2", "p3"] {
        world
            .node_image_where(name, "created", |n| n.is_some())
            .await;
    }
    world.create_namespace("web").await;
    world
        .create_pod("web", "web-1", json!({"app": "web"}), "p1")
        .await;
    world
        .create_pod("web", "web-2", json!({"app": "web"}), "p3")
        .await;
    world
        .create_pod("web", "db-1", json!({"app": "db"}), "p2")
        .await;
    world
        .create_job(
            "web",
            "web-images",
            json!({
                "image": "registry.example/web:1.0",
                "parallelism": 10,
                "podSelector": {"matchLabels": {"app": "web"}},
                "completionPolicy": {"type": "Never"},
            }),
        )
        .await;
    let image = "registry.example/web";
    let targeted = |expected: Vec<&'static str>| async move {
        prepull_testbed::assert_eventually("the job's tasks", WAIT, || async {
            let mut images = Vec::new();
            for name in ["p1", "p2", "p3"] {
                images.push((name, world.node_image(name).await));
            }
            let with = with_task(&images, image);
            let desired = world
                .job("web", "web-images")
                .await
                .status
                .map(|s| s.desired);
            if with == expected && desired == Some(i32::try_from(expected.len()).unwrap()) {
                Ok(())
            } else {
                Err(format!("tasks on {with:?}, desired {desired:?}"))
            }
        })
        .await;
    };
    targeted(vec!["p1", "p3"]).await;
    let note = event_note(world, "web", "web-images", STARTED, "Normal").await;
    assert!(note.contains("registry.example/web:1.0"), "{note}");
    // A new matching Pod brings its node in.
    world
        .create_pod("web", "web-3", json!({"app": "web"}), "p2")
        .await;
    targeted(vec!["p1", "p2", "p3"]).await;
}

async fn a_failed_pull_and_the_end_of_the_job_are_recorded_as_events(world: &World) {
    world.create_node("f1", &[], long_ago()).await;
    world
        .node_image_where("f1", "created", |n| n.is_some())
        .await;
    let image = "registry.example/private";
    world
        .create_job(
            "web",
            "fails",
            json!({"image": format!("{image}:2"), "selector": {"names": ["f1"]}}),
        )
        .await;
    world
        .node_image_where("f1", "has the task", |n| {
            n.as_ref()
                .is_some_and(|n| n.spec.images.contains_key(image))
        })
        .await;
    world.fail_tasks("f1", image, "401 Unauthorized").await;
    let note = event_note(world, "web", "fails", PULL_IMAGE_FAILED, "Warning").await;
    assert_eq!(
        note,
        "Failed to pull image registry.example/private:2 on node f1: 401 Unauthorized"
    );
    let note = event_note(world, "web", "fails", COMPLETED, "Warning").await;
    assert!(note.contains("job has completed"), "{note}");
}

/// The leader's connection to kube-apiserver is blackholed (it hangs, nothing is refused):
/// it stops leading within the renew deadline of its last renewal, before the other replica
/// can see the Lease expire and take it.
async fn a_partitioned_leader_stops_leading_before_another_can_take_over(world: &World) {
    let timing = LeaseTiming {
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let proxy = BlackholeProxy::start(&world.kube_host_port())
        .await
        .expect("proxy");
    let through_proxy = world.client_through(&proxy.host_port()).await;
    let a = LeaseElection::new(
        through_proxy,
        "default",
        "partition-test",
        "replica-a",
        timing,
    );
    let b = LeaseElection::new(
        world.client.clone(),
        "default",
        "partition-test",
        "replica-b",
        timing,
    );
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a_term = tokio::time::timeout(WAIT, a.acquire(&stop_a))
        .await
        .expect("a campaigns in time")
        .expect("a leads");
    let b_campaign = {
        let b = b.clone();
        let stop_b = stop_b.clone();
        tokio::spawn(async move {
            let term = b.acquire(&stop_b).await;
            (std::time::Instant::now(), term)
        })
    };
    // Let a renew a few times, then cut it off.
    tokio::time::sleep(timing.retry_period * 3).await;
    assert!(!a_term.is_cancelled());
    let cut_at = std::time::Instant::now();
    proxy.set_blackholed(true);
    tokio::time::timeout(WAIT, a_term.cancelled())
        .await
        .expect("a stops leading");
    let a_stopped = std::time::Instant::now();
    assert!(!a.is_leading());
    assert!(
        a_stopped - cut_at <= timing.renew_deadline + Duration::from_millis(500),
        "a led for {:?} after the cut (renew deadline {:?})",
        a_stopped - cut_at,
        timing.renew_deadline
    );
    let (b_led_at, b_term) = tokio::time::timeout(WAIT, b_campaign)
        .await
        .expect("b takes over")
        .expect("b's campaign runs");
    assert!(b_term.is_some(), "b leads");
    assert!(
        b_led_at > a_stopped,
        "b led {:?} before a stopped",
        a_stopped - b_led_at
    );
    stop_a.cancel();
    stop_b.cancel();
}

async fn one_of_two_electors_leads_and_stopping_it_hands_over(world: &World) {
    let timing = LeaseTiming {
        lease_duration: Duration::from_secs(4),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_millis(200),
    };
    let elector = |identity: &str| {
        LeaseElection::new(
            world.client.clone(),
            "default",
            "election-test",
            identity,
            timing,
        )
    };
    let (a, b) = (elector("replica-a"), elector("replica-b"));
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a_leads = tokio::time::timeout(WAIT, a.acquire(&stop_a))
        .await
        .expect("a campaigns in time")
        .expect("a leads");
    assert!(a.is_leading());
    let mut b_campaign = {
        let b = b.clone();
        let stop_b = stop_b.clone();
        tokio::spawn(async move { b.acquire(&stop_b).await })
    };
    // While a renews, b does not lead, even past a's lease duration.
    let early = tokio::time::timeout(
        timing.lease_duration + Duration::from_secs(1),
        &mut b_campaign,
    )
    .await;
    assert!(early.is_err(), "b must not lead while a renews");
    assert!(!a_leads.is_cancelled());

    let handed_over = std::time::Instant::now();
    stop_a.cancel();
    tokio::time::timeout(WAIT, a_leads.cancelled())
        .await
        .expect("a's leadership ends when it stops");
    let b_leads = tokio::time::timeout(WAIT, b_campaign)
        .await
        .expect("b takes over")
        .expect("b's campaign runs")
        .expect("b leads");
    // Released, not expired: b took over well within a lease duration.
    assert!(
        handed_over.elapsed() < timing.lease_duration,
        "took {:?}",
        handed_over.elapsed()
    );
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), "default");
    let lease = leases.get("election-test").await.expect("the lease");
    let spec = lease.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));

    // Someone else takes the Lease: b notices at its next renewal and stops leading.
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now());
    let taken = json!({"spec": {"holderIdentity": "intruder", "renewTime": now}});
    leases
        .patch(
            "election-test",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(taken),
        )
        .await
        .expect("take the lease");
    tokio::time::timeout(WAIT, b_leads.cancelled())
        .await
        .expect("b's leadership ends when the lease is taken");
    assert!(!b.is_leading());
    stop_b.cancel();
}
