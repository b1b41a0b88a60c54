//! Spec changes: a running job takes them (pull policy reaches its tags), a completed job
//! refuses them with a Status naming `spec`, except its `ttlSecondsAfterFinished`.

use prepull_api::job_template::ImagePullPolicy;
use prepull_api::{ApiVersion, Kind};
use prepull_apiserver::http::status::ApiError;
use prepull_apiserver::registry::{Patch, Subresource};
use serde_json::{Value, json};

use super::support::{self, Answer, StandInAgents, WAIT, World};

async fn merge_patch(world: &World, kind: Kind, name: &str, patch: Value) -> Result<(), ApiError> {
    world
        .registry
        .store(kind)
        .patch(
            Some("default"),
            name,
            &Patch::Merge(serde_json::to_vec(&patch).unwrap().into()),
            ApiVersion::V1alpha1,
            Subresource::Main,
            &support::writer(),
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_completed_job_refuses_spec_changes_but_accepts_a_new_ttl() {
    let world = World::start().await;
    world.register_node("done", &[]).await;
    let _agents = StandInAgents::start(world.registry.clone(), super::succeed).await;
    world
        .create_job("finished", json!({"image": "app:1"}))
        .await;
    world.finished_job("finished").await;

    let refused = merge_patch(
        &world,
        Kind::ImagePullJob,
        "finished",
        json!({"spec": {"parallelism": 5}}),
    )
    .await
    .expect_err("a completed job's spec is frozen");
    assert_eq!(refused.code.as_u16(), 422, "{}", refused.message);
    assert!(
        refused.message.contains("spec: Forbidden"),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("the job has completed"),
        "{}",
        refused.message
    );

    merge_patch(
        &world,
        Kind::ImagePullJob,
        "finished",
        json!({"spec": {"completionPolicy": {"ttlSecondsAfterFinished": 3600}}}),
    )
    .await
    .expect("the TTL of a completed job may change");
    // Metadata is not spec: labels still change.
    merge_patch(
        &world,
        Kind::ImagePullJob,
        "finished",
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await
    .expect("labels of a completed job may change");
    world.stop().await;
}

#[tokio::test]
async fn a_pull_policy_changed_on_a_running_job_reaches_its_node_image_tags() {
    let world = World::start().await;
    world.register_node("slow", &[]).await;
    let _agents = StandInAgents::start(world.registry.clone(), |_| Answer::Ignore).await;
    world
        .create_job(
            "running",
            json!({"image": "app:2", "pullPolicy": {"timeoutSeconds": 60}}),
        )
        .await;
    prepull_testbed::assert_eventually("the node gets the task", WAIT, || async {
        let node = world.node("slow").await;
        node.spec.images.get("app").map(|_| ()).ok_or("no task yet")
    })
    .await;
    merge_patch(
        &world,
        Kind::ImagePullJob,
        "running",
        json!({"spec": {"pullPolicy": {"timeoutSeconds": 900, "backoffLimit": 5}, "imagePullPolicy": "Always"}}),
    )
    .await
    .expect("a running job's spec may change");
    let tag = prepull_testbed::assert_eventually("the tag takes the new policy", WAIT, || async {
        let node = world.node("slow").await;
        let tag = node.spec.images["app"].tags[0].clone();
        let policy = tag.pull_policy.clone().unwrap_or_default();
        if policy.timeout_seconds == Some(900) && policy.backoff_limit == Some(5) {
            Ok(tag)
        } else {
            Err(format!("{tag:?}"))
        }
    })
    .await;
    assert_eq!(tag.image_pull_policy, Some(ImagePullPolicy::Always));
    assert_eq!(tag.version, 1, "the pull in flight is not restarted");
    world.stop().await;
}
