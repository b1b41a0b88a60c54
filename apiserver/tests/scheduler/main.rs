//! The job scheduler on the real embedded store, with the registry in-process: jobs get their
//! tasks onto NodeImages, results flow back into job status, and every rule of
//! ImagePullJob scheduling holds. Stand-in agents (see `support.rs`) answer the tasks.

mod leader;
mod list_jobs;
mod scale;
mod spec_changes;
mod support;

use futures::StreamExt;
use prepull_api::ApiVersion;
use prepull_api::job_condition::JobConditionType;
use prepull_api::{ImagePullJob, Kind};
use prepull_apiserver::registry::{DeleteParams, Patch, Subresource, WatchItem, WatchParams};
use std::time::Duration;

use prepull_api::node_image::ImagePullPhase;
use prepull_apiserver::scheduler::SchedulerOptions;
use prepull_apiserver::scheduler::job_status::{
    COMPLETED, DEADLINE_EXCEEDED, POD_SELECTOR_UNSUPPORTED,
};
use prepull_apiserver::scheduler::stale_tasks::NOT_RESPONDING;
use serde_json::json;

use support::{Answer, StandInAgents, WAIT, World};

pub(crate) fn succeed(_: &str) -> Answer {
    Answer::Succeed
}

fn condition(job: &ImagePullJob) -> (JobConditionType, String) {
    let status = job.status.as_ref().expect("status");
    assert_eq!(status.conditions.len(), 1, "{status:?}");
    let c = &status.conditions[0];
    (c.type_.clone(), c.reason.clone())
}

/// Owners' names of `image`:`tag` on node `node`.
async fn owners(world: &World, node: &str, image: &str, tag: &str) -> Vec<String> {
    let node = world.node(node).await;
    node.spec
        .images
        .get(image)
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
        .map(|t| {
            let mut names: Vec<String> = t
                .owner_references
                .iter()
                .map(|o| o.name.clone().unwrap_or_default())
                .collect();
            names.sort();
            names
        })
        .unwrap_or_default()
}

/// Jobs with deadlines and TTLs at the top of their types, and nodes reporting times in the
/// year 9999 and versions at `i64::MAX`, leave the scheduler working: every job completes,
/// and an ordinary job created afterwards too (before, the first such job made scheduler
/// workers panic and the next one never started).
#[tokio::test]
async fn overflowing_deadlines_and_year_9999_statuses_leave_the_scheduler_working() {
    let world = World::start().await;
    for name in ["n1", "n2"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |_| Answer::SucceedHostile).await;
    for i in 0..6 {
        world
            .create_job(
                &format!("huge-{i}"),
                json!({
                    "image": "nginx:1.27",
                    "completionPolicy": {
                        "activeDeadlineSeconds": i64::MAX,
                        "ttlSecondsAfterFinished": i32::MAX,
                    },
                    "pullPolicy": {"timeoutSeconds": i32::MAX, "backoffLimit": i32::MAX},
                }),
            )
            .await;
    }
    for i in 0..6 {
        let status = world
            .finished_job(&format!("huge-{i}"))
            .await
            .status
            .unwrap();
        assert_eq!((status.desired, status.succeeded), (2, 2), "{status:?}");
    }
    world
        .create_job("overflow", json!({"image": "nginx:overflow"}))
        .await;
    world
        .create_job("ordinary", json!({"image": "busybox:1.36"}))
        .await;
    for name in ["overflow", "ordinary"] {
        let status = world.finished_job(name).await.status.unwrap();
        assert_eq!(
            (status.desired, status.succeeded),
            (2, 2),
            "{name}: {status:?}"
        );
    }
    world.stop().await;
}

#[tokio::test]
async fn a_job_without_selector_completes_on_every_node() {
    let world = World::start().await;
    for name in ["n1", "n2", "n3"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job("all", json!({"image": "nginx:1.27", "parallelism": 2}))
        .await;
    let job = world.finished_job("all").await;
    let status = job.status.clone().unwrap();
    assert_eq!(
        (
            status.desired,
            status.succeeded,
            status.failed,
            status.active
        ),
        (3, 3, 0, 0)
    );
    assert_eq!(status.message, COMPLETED);
    assert_eq!(status.observed_generation, Some(1));
    assert!(status.start_time.is_some());
    assert_eq!(condition(&job).0, JobConditionType::Complete);
    for name in ["n1", "n2", "n3"] {
        assert_eq!(owners(&world, name, "nginx", "1.27").await, ["all"]);
    }
    world.stop().await;
}

#[tokio::test]
async fn names_and_label_selectors_target_exactly_their_nodes() {
    let world = World::start().await;
    world.register_node("a", &[("zone", "x")]).await;
    world.register_node("b", &[("zone", "y")]).await;
    world.register_node("c", &[("zone", "x")]).await;
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job(
            "by-name",
            json!({"image": "app:1", "selector": {"names": ["b", "missing"]}}),
        )
        .await;
    world
        .create_job(
            "by-label",
            json!({"image": "app:2", "parallelism": 5,
                   "selector": {"matchLabels": {"zone": "x"}}}),
        )
        .await;
    world
        .create_job(
            "empty-selector",
            json!({"image": "app:3", "parallelism": 5, "selector": {"matchLabels": {}}}),
        )
        .await;
    let by_name = world.finished_job("by-name").await.status.unwrap();
    assert_eq!((by_name.desired, by_name.succeeded), (1, 1));
    let by_label = world.finished_job("by-label").await.status.unwrap();
    assert_eq!((by_label.desired, by_label.succeeded), (2, 2));
    let empty = world.finished_job("empty-selector").await.status.unwrap();
    assert_eq!((empty.desired, empty.succeeded), (3, 3));
    for (node, tag1, tag2) in [("a", false, true), ("b", true, false), ("c", false, true)] {
        assert_eq!(
            !owners(&world, node, "app", "1").await.is_empty(),
            tag1,
            "{node}"
        );
        assert_eq!(
            !owners(&world, node, "app", "2").await.is_empty(),
            tag2,
            "{node}"
        );
        assert_eq!(owners(&world, node, "app", "3").await, ["empty-selector"]);
    }
    world.stop().await;
}

#[tokio::test]
async fn a_job_with_no_target_nodes_completes_at_once() {
    let world = World::start().await;
    world.register_node("a", &[]).await;
    world
        .create_job(
            "nobody",
            json!({"image": "app:1", "selector": {"names": ["ghost"]}}),
        )
        .await;
    let status = world.finished_job("nobody").await.status.unwrap();
    assert_eq!((status.desired, status.succeeded, status.failed), (0, 0, 0));
    assert_eq!(status.message, COMPLETED);
    world.stop().await;
}

#[tokio::test]
async fn with_parallelism_one_a_watch_never_shows_more_than_one_active_node() {
    let world = World::start().await;
    for name in ["p1", "p2", "p3", "p4"] {
        world.register_node(name, &[]).await;
    }
    let mut events = world
        .registry
        .store(Kind::ImagePullJob)
        .watch(Some("default"), &WatchParams::default())
        .await
        .unwrap();
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job("one-by-one", json!({"image": "app:1", "parallelism": 1}))
        .await;
    let mut max_active = 0;
    let mut finished = None;
    tokio::time::timeout(WAIT, async {
        while let Some(item) = events.next().await {
            let WatchItem::Event { object, .. } = item else {
                continue;
            };
            let job: ImagePullJob = serde_json::from_value((*object.value()).clone()).unwrap();
            let status = job.status.unwrap_or_default();
            max_active = max_active.max(status.active);
            if status.completion_time.is_some() {
                finished = Some(status);
                break;
            }
        }
    })
    .await
    .expect("the job finishes");
    let finished = finished.expect("a final status");
    assert_eq!(finished.succeeded, 4);
    assert_eq!(max_active, 1);
    world.stop().await;
}

#[tokio::test]
async fn a_node_failing_the_pull_fails_the_job_with_failed_nodes_and_message() {
    let world = World::start().await;
    for name in ["good", "bad-2", "bad-1"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |node| {
        if node.starts_with("bad") {
            Answer::Fail("manifest unknown".into())
        } else {
            Answer::Succeed
        }
    })
    .await;
    world
        .create_job(
            "missing-image",
            json!({"image": "nope:404", "parallelism": 3}),
        )
        .await;
    let job = world.finished_job("missing-image").await;
    let status = job.status.clone().unwrap();
    assert_eq!((status.succeeded, status.failed), (1, 2));
    assert_eq!(status.failed_nodes, ["bad-1", "bad-2"]);
    assert_eq!(status.message, COMPLETED);
    assert_eq!(
        condition(&job),
        (JobConditionType::Failed, "NodesFailed".to_owned())
    );
    world.stop().await;
}

#[tokio::test]
async fn deleting_a_job_removes_it_from_every_tag_it_owns() {
    let world = World::start().await;
    for name in ["d1", "d2"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    for name in ["first", "second"] {
        world
            .create_job(name, json!({"image": "shared:1", "parallelism": 2}))
            .await;
        world.finished_job(name).await;
    }
    assert_eq!(
        owners(&world, "d1", "shared", "1").await,
        ["first", "second"]
    );
    let jobs = world.registry.store(Kind::ImagePullJob);
    jobs.delete(Some("default"), "first", &DeleteParams::default())
        .await
        .unwrap();
    prepull_testbed::assert_eventually("first leaves every tag", WAIT, || async {
        for node in ["d1", "d2"] {
            let names = owners(&world, node, "shared", "1").await;
            if names != ["second"] {
                return Err(format!("{node}: {names:?}"));
            }
        }
        Ok(())
    })
    .await;
    jobs.delete(Some("default"), "second", &DeleteParams::default())
        .await
        .unwrap();
    prepull_testbed::assert_eventually("the tag goes with its last owner", WAIT, || async {
        let node = world.node("d1").await;
        if node.spec.images.is_empty() && world.node("d2").await.spec.images.is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", node.spec.images))
        }
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn twenty_jobs_over_one_image_leave_every_owner_on_every_node() {
    let world = World::start().await;
    let nodes = ["m1", "m2", "m3"];
    for name in nodes {
        world.register_node(name, &[]).await;
    }
    let agents = StandInAgents::start(world.registry.clone(), succeed).await;
    let names: Vec<String> = (0..20).map(|i| format!("job-{i:02}")).collect();
    let creates = names
        .iter()
        .map(|name| world.create_job(name, json!({"image": "busy:1", "parallelism": 2})));
    futures::future::join_all(creates).await;
    for name in &names {
        let status = world.finished_job(name).await.status.unwrap();
        assert_eq!((status.desired, status.succeeded), (3, 3), "{name}");
    }
    for node in nodes {
        assert_eq!(owners(&world, node, "busy", "1").await, names, "{node}");
        let image = world.node(node).await;
        let version = image.spec.images["busy"].tags[0].version;
        assert!(
            agents
                .answered_versions(node, "busy", "1")
                .contains(&version),
            "{node}: the last round (version {version}) was pulled"
        );
    }
    world.stop().await;
}

#[tokio::test]
async fn active_deadline_seconds_fails_the_remaining_nodes() {
    let world = World::start().await;
    for name in ["fast", "stuck"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |node| {
        if node == "stuck" {
            Answer::Ignore
        } else {
            Answer::Succeed
        }
    })
    .await;
    world
        .create_job(
            "deadline",
            json!({"image": "slow:1", "parallelism": 2,
                   "pullPolicy": {"timeoutSeconds": 1},
                   "completionPolicy": {"activeDeadlineSeconds": 2}}),
        )
        .await;
    let job = world.finished_job("deadline").await;
    let status = job.status.clone().unwrap();
    assert_eq!(status.message, DEADLINE_EXCEEDED);
    assert_eq!((status.succeeded, status.failed), (1, 1));
    assert_eq!(status.failed_nodes, ["stuck"]);
    assert_eq!(condition(&job).0, JobConditionType::Failed);
    world.stop().await;
}

#[tokio::test]
async fn ttl_seconds_after_finished_deletes_the_job() {
    let world = World::start().await;
    world.register_node("t1", &[]).await;
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job(
            "short-lived",
            // Long enough for the test to see the job finished before it goes.
            json!({"image": "app:1", "completionPolicy": {"ttlSecondsAfterFinished": 3}}),
        )
        .await;
    world.finished_job("short-lived").await;
    prepull_testbed::assert_eventually("the finished job is deleted", WAIT, || async {
        match world.job("short-lived").await {
            None => Ok(()),
            Some(_) => Err("still there"),
        }
    })
    .await;
    prepull_testbed::assert_eventually("its tag goes too", WAIT, || async {
        let images = world.node("t1").await.spec.images;
        if images.is_empty() {
            Ok(())
        } else {
            Err(format!("{images:?}"))
        }
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn a_pod_selector_job_in_standalone_mode_says_it_needs_cluster_mode() {
    let world = World::start().await;
    world.register_node("a", &[]).await;
    world
        .create_job(
            "pods",
            json!({"image": "app:1", "podSelector": {"matchLabels": {"app": "web"}}}),
        )
        .await;
    let status = prepull_testbed::assert_eventually("the job explains itself", WAIT, || async {
        let status = world
            .job("pods")
            .await
            .and_then(|j| j.status)
            .unwrap_or_default();
        if status.message == POD_SELECTOR_UNSUPPORTED {
            Ok(status)
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    assert_eq!(status.conditions[0].type_, JobConditionType::Complete);
    assert_eq!(status.conditions[0].reason, "PodSelectorUnsupported");
    assert!(world.node("a").await.spec.images.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn a_task_the_node_never_acknowledges_fails_after_the_timeout() {
    let world = World::start_with(SchedulerOptions {
        ack_timeout: Duration::from_millis(300),
        ..SchedulerOptions::default()
    })
    .await;
    for name in ["answers", "silent"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |node| {
        if node == "silent" {
            Answer::Ignore
        } else {
            Answer::Succeed
        }
    })
    .await;
    world
        .create_job("quiet-node", json!({"image": "app:1", "parallelism": 2}))
        .await;
    let status = world.finished_job("quiet-node").await.status.unwrap();
    assert_eq!(status.failed_nodes, ["silent"]);
    assert_eq!(status.succeeded, 1);
    let node = world.node("silent").await;
    let tag = &node.status.unwrap().image_statuses["app"].tags[0];
    assert_eq!(tag.phase, ImagePullPhase::Failed);
    assert_eq!(tag.message, NOT_RESPONDING);
    world.stop().await;
}

#[tokio::test]
async fn a_never_job_follows_new_nodes_and_pulls_again_each_period() {
    let world = World::start_with(SchedulerOptions {
        repull_period: Duration::from_millis(400),
        ..SchedulerOptions::default()
    })
    .await;
    world.register_node("early", &[]).await;
    let agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job(
            "forever",
            json!({"image": "app:1", "parallelism": 5,
                   "completionPolicy": {"type": "Never"}}),
        )
        .await;
    prepull_testbed::assert_eventually("the image is pulled again", WAIT, || async {
        let versions = agents.answered_versions("early", "app", "1");
        if versions.len() >= 2 {
            Ok(())
        } else {
            Err(format!("{versions:?}"))
        }
    })
    .await;
    world.register_node("late", &[]).await;
    prepull_testbed::assert_eventually("a node registered later gets the task", WAIT, || async {
        let names = owners(&world, "late", "app", "1").await;
        if names == ["forever"] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
    let status = world.job("forever").await.unwrap().status.unwrap();
    assert!(status.completion_time.is_none(), "{status:?}");
    assert!(status.conditions.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn a_finished_tag_leaves_the_node_image_after_its_ttl() {
    let world = World::start_with(SchedulerOptions {
        tag_ttl_grace_seconds: 0,
        ..SchedulerOptions::default()
    })
    .await;
    world.register_node("e1", &[]).await;
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    // Tag TTL = timeoutSeconds x backoffLimit + grace = 1 s.
    world
        .create_job(
            "brief",
            json!({"image": "app:1", "pullPolicy": {"timeoutSeconds": 1, "backoffLimit": 1}}),
        )
        .await;
    world.finished_job("brief").await;
    let tag = world.node("e1").await.spec.images["app"].tags[0].clone();
    assert_eq!(tag.pull_policy.unwrap().ttl_seconds_after_finished, Some(1));
    prepull_testbed::assert_eventually("the finished tag expires", WAIT, || async {
        let images = world.node("e1").await.spec.images;
        if images.is_empty() {
            Ok(())
        } else {
            Err(format!("{images:?}"))
        }
    })
    .await;
    let status = world.job("brief").await.unwrap().status.unwrap();
    assert_eq!(status.succeeded, 1, "the finished job keeps its result");
    world.stop().await;
}

#[tokio::test]
async fn parallelism_zero_pauses_the_job_until_it_is_raised() {
    let world = World::start().await;
    for name in ["z1", "z2"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    world
        .create_job("paused", json!({"image": "app:1", "parallelism": 0}))
        .await;
    let status = prepull_testbed::assert_eventually("the paused job reports", WAIT, || async {
        let status = world
            .job("paused")
            .await
            .and_then(|j| j.status)
            .unwrap_or_default();
        if status.desired == 2 {
            Ok(status)
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    assert_eq!((status.active, status.succeeded), (0, 0));
    assert_eq!(status.message, "job is running, progress 0.0%");
    assert!(world.node("z1").await.spec.images.is_empty());
    let patch = json!({"spec": {"parallelism": 2}});
    world
        .registry
        .store(Kind::ImagePullJob)
        .patch(
            Some("default"),
            "paused",
            &Patch::Merge(serde_json::to_vec(&patch).unwrap().into()),
            ApiVersion::V1alpha1,
            Subresource::Main,
            &support::writer(),
        )
        .await
        .unwrap();
    let status = world.finished_job("paused").await.status.unwrap();
    assert_eq!(status.succeeded, 2);
    assert_eq!(status.observed_generation, Some(2));
    world.stop().await;
}

#[tokio::test]
async fn a_selector_changed_on_a_running_job_moves_its_tasks() {
    let world = World::start().await;
    for name in ["old", "new"] {
        world.register_node(name, &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |node| {
        if node == "old" {
            Answer::Ignore
        } else {
            Answer::Succeed
        }
    })
    .await;
    world
        .create_job(
            "moving",
            json!({"image": "app:1", "selector": {"names": ["old"]}}),
        )
        .await;
    prepull_testbed::assert_eventually("the first node gets the task", WAIT, || async {
        let names = owners(&world, "old", "app", "1").await;
        if names == ["moving"] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
    let patch = json!({"spec": {"selector": {"names": ["new"]}}});
    world
        .registry
        .store(Kind::ImagePullJob)
        .patch(
            Some("default"),
            "moving",
            &Patch::Merge(serde_json::to_vec(&patch).unwrap().into()),
            ApiVersion::V1alpha1,
            Subresource::Main,
            &support::writer(),
        )
        .await
        .unwrap();
    let status = world.finished_job("moving").await.status.unwrap();
    assert_eq!((status.desired, status.succeeded), (1, 1));
    assert!(world.node("old").await.spec.images.is_empty());
    world.stop().await;
}
