//! The agent against real containerd, a real registry and the real API server.

mod support;

use std::time::Duration;

use prepull_api::node_image::ImagePullPhase;
use prepull_cri::runtime::v1::{ImageSpec, ImageStatusRequest, PullImageRequest};
use prepull_testbed::{Containerd, Registry, RegistryOptions};
use serde_json::json;
use support::{Agent, Server, tag_status, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);

async fn image_in_containerd(containerd: &Containerd, reference: &str) -> Option<String> {
    let mut images = containerd.image_client().await.expect("image client");
    let response = images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: reference.to_owned(),
                ..ImageSpec::default()
            }),
            verbose: false,
        })
        .await
        .expect("ImageStatus");
    response.into_inner().image.map(|image| image.id)
}

fn repository(reference: &str) -> String {
    reference.rsplit_once(':').expect("name:tag").0.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_patched_in_with_kubectl_is_pulled_and_reported_succeeded_with_its_image_id() {
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
    let agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--node-labels",
        "zone=a,disk=ssd",
        "--cri-endpoint",
        &containerd.endpoint(),
    ])
    .await;
    let admin = server.admin().await;
    prepull_testbed::assert_eventually(
        "the agent puts its labels on its NodeImage",
        Duration::from_secs(30),
        || async {
            let labels = admin.get("n1").await?.metadata.labels.unwrap_or_default();
            if labels.get("zone").map(String::as_str) == Some("a")
                && labels.get("disk").map(String::as_str) == Some("ssd")
            {
                Ok(())
            } else {
                Err(anyhow::anyhow!("labels are {labels:?}"))
            }
        },
    )
    .await;

    // A status field the agent does not own, written by someone else.
    let first_sync =
        json!({"status": {"firstSyncStatus": {"status": "Succeeded", "message": "kept"}}});
    admin
        .patch_status(
            "n1",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&first_sync),
        )
        .await
        .expect("patch firstSyncStatus");
    let image = repository(&pushed.reference);
    server.add_tag("n1", &image, "v1", json!({})).await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, pushed.config_digest);
    assert_eq!(status.progress, 100);
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(
        image_in_containerd(&containerd, &pushed.reference).await,
        Some(pushed.config_digest.clone())
    );
    let counters = admin.get("n1").await.expect("get").status.expect("status");
    assert_eq!((counters.desired, counters.succeeded), (1, 1));
    assert_eq!(
        counters.first_sync_status.map(|s| s.message).as_deref(),
        Some("kept"),
        "the agent's status writes keep fields it does not own"
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_present_succeeds_without_the_registry_when_the_image_is_there() {
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
    containerd
        .image_client()
        .await
        .expect("client")
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: pushed.reference.clone(),
                ..ImageSpec::default()
            }),
            ..PullImageRequest::default()
        })
        .await
        .expect("pre-pull");
    registry.stop().await.expect("stop the registry");
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
    let image = repository(&pushed.reference);
    server
        .add_tag(
            "n1",
            &image,
            "v1",
            json!({"imagePullPolicy": "IfNotPresent"}),
        )
        .await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, pushed.config_digest);

    // Always must contact the registry, which is down.
    server
        .add_tag(
            "n1",
            &image,
            "v1",
            json!({"imagePullPolicy": "Always", "version": 2, "pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 0}}),
        )
        .await;
    let failed = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(failed.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_tag_fails_after_backoff_limit_plus_one_attempts_with_the_runtime_cause() {
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
    let image = repository(&pushed.reference);
    let started = tokio::time::Instant::now();
    server
        .add_tag(
            "n1",
            &image,
            "missing",
            json!({"pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 1}}),
        )
        .await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "missing",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(status.message.contains("not found"), "{}", status.message);
    assert!(
        status.message.ends_with("(after 2 attempts)"),
        "{}",
        status.message
    );
    // One 1 s back-off sleep separates the two attempts.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registry_needs_the_docker_config_credentials() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::private("alice", "s3cret"))
        .await
        .expect("registry");
    let pushed = registry
        .push_test_image("team/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");
    let image = repository(&pushed.reference);
    let admin = server.admin().await;

    let anonymous_kubeconfig = server.node_kubeconfig("anon");
    let _anonymous = Agent::start(&[
        "--kubeconfig",
        anonymous_kubeconfig.to_str().unwrap(),
        "--node-name",
        "anon",
        "--cri-endpoint",
        &containerd.endpoint(),
    ])
    .await;
    wait_registered(&admin, "anon").await;
    server
        .add_tag(
            "anon",
            &image,
            "v1",
            json!({"pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 0}}),
        )
        .await;
    let failed = wait_for_phase(
        &admin,
        "anon",
        &image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(failed.message.contains("401"), "{}", failed.message);

    let docker_config = server.path("config.json");
    std::fs::write(
        &docker_config,
        json!({"auths": {registry.host_port(): {"username": "alice", "password": "s3cret"}}})
            .to_string(),
    )
    .expect("write config.json");
    let kubeconfig = server.node_kubeconfig("n1");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
        "--docker-config",
        docker_config.to_str().unwrap(),
    ])
    .await;
    wait_registered(&admin, "n1").await;
    server.add_tag("n1", &image, "v1", json!({})).await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, pushed.config_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_reference_is_pulled() {
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
    let image = repository(&pushed.reference);
    server
        .add_tag("n1", &image, &pushed.manifest_digest, json!({}))
        .await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        &pushed.manifest_digest,
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, pushed.config_digest);
    assert!(
        tag_status(&admin, "n1", &image, &pushed.manifest_digest)
            .await
            .expect("get")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_docker_config_applies_to_the_next_pull_without_a_restart() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::private("alice", "s3cret"))
        .await
        .expect("registry");
    let pushed = registry
        .push_test_image("team/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");
    let image = repository(&pushed.reference);
    let docker_config = server.path("config.json");
    let write_config = |password: &str| {
        let text =
            json!({"auths": {registry.host_port(): {"username": "alice", "password": password}}});
        std::fs::write(&docker_config, text.to_string()).expect("write config.json");
    };
    write_config("wrong");
    let kubeconfig = server.node_kubeconfig("n1");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
        "--docker-config",
        docker_config.to_str().unwrap(),
    ])
    .await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;
    let no_retries = json!({"pullPolicy": {"ttlSecondsAfterFinished": 300, "backoffLimit": 0}});
    server.add_tag("n1", &image, "v1", no_retries.clone()).await;
    let failed = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(failed.message.contains("401"), "{}", failed.message);

    // The node's tooling fixes the password in place; a new version of the tag pulls again.
    write_config("s3cret");
    let mut again = no_retries;
    again["version"] = json!(1);
    server.add_tag("n1", &image, "v1", again).await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!((status.version, status.image_id), (1, pushed.config_digest));
}
