//! ImageListPullJobs: one child ImagePullJob per image, following the list's spec, status
//! summed from the children.

use prepull_api::{ApiVersion, ImagePullJob, Kind};
use prepull_apiserver::registry::{DeleteParams, Patch, Subresource};
use serde_json::json;

use crate::succeed;
use crate::support::{self, StandInAgents, WAIT, World};

/// The images of the children of ImageListPullJob `list`, sorted, once they are exactly
/// `want`.
async fn children_become(world: &World, list: &str, want: &[&str]) -> Vec<ImagePullJob> {
    prepull_testbed::assert_eventually(&format!("{list} has children {want:?}"), WAIT, || async {
        let children: Vec<ImagePullJob> = world
            .jobs()
            .await
            .into_iter()
            .filter(|job| {
                job.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.name == list && o.controller == Some(true))
            })
            .collect();
        let mut images: Vec<&str> = children.iter().map(|c| c.spec.image.as_str()).collect();
        images.sort();
        if images == want {
            Ok(children)
        } else {
            Err(format!("{images:?}"))
        }
    })
    .await
}

#[tokio::test]
async fn an_image_list_pull_job_runs_one_child_per_image_and_follows_its_spec() {
    let world = World::start().await;
    world.register_node("l1", &[]).await;
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_list_job(
            "list",
            json!({"images": ["app:1", "app:2"], "parallelism": 1}),
        )
        .await;
    let children = children_become(&world, "list", &["app:1", "app:2"]).await;
    for child in &children {
        let name = child.metadata.name.clone().unwrap();
        assert!(name.starts_with("list-"), "{name}");
        let labels = child.metadata.labels.clone().unwrap();
        assert!(labels.contains_key("controller-revision-hash"));
    }
    let status = prepull_testbed::assert_eventually("the list completes", WAIT, || async {
        let status = world
            .list_job("list")
            .await
            .and_then(|l| l.status)
            .unwrap_or_default();
        if status.completion_time.is_some() {
            Ok(status)
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    assert_eq!(
        (status.desired, status.completed, status.succeeded),
        (2, 2, 2)
    );

    // The completed list's spec is frozen.
    let store = world.registry.store(Kind::ImageListPullJob);
    let patch = json!({"spec": {"images": ["app:2"], "parallelism": 2}});
    let merge = Patch::Merge(serde_json::to_vec(&patch).unwrap().into());
    let refused = store
        .patch(
            Some("default"),
            "list",
            &merge,
            ApiVersion::V1alpha1,
            Subresource::Main,
            &support::writer(),
        )
        .await
        .expect_err("a completed list refuses spec changes");
    assert_eq!(refused.code.as_u16(), 422);
    store
        .delete(Some("default"), "list", &DeleteParams::default())
        .await
        .unwrap();

    // On a running list (paused), an image removed from the list loses its child and a
    // template change replaces the rest.
    world
        .create_list_job(
            "running",
            json!({"images": ["app:1", "app:2"], "parallelism": 0}),
        )
        .await;
    let children = children_become(&world, "running", &["app:1", "app:2"]).await;
    store
        .patch(
            Some("default"),
            "running",
            &merge,
            ApiVersion::V1alpha1,
            Subresource::Main,
            &support::writer(),
        )
        .await
        .unwrap();
    let old: Vec<String> = children
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    let replaced = prepull_testbed::assert_eventually("the child is replaced", WAIT, || async {
        let children = children_become(&world, "running", &["app:2"]).await;
        let name = children[0].metadata.name.clone().unwrap();
        if old.contains(&name) {
            Err(format!("still {name}"))
        } else {
            Ok(children)
        }
    })
    .await;
    assert_eq!(
        replaced[0].spec.template.parallelism,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2))
    );

    store
        .delete(Some("default"), "running", &DeleteParams::default())
        .await
        .unwrap();
    prepull_testbed::assert_eventually("the children go with the list", WAIT, || async {
        let left = world.jobs().await.len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} jobs left"))
        }
    })
    .await;
    world.stop().await;
}
