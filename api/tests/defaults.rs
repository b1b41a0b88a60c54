//! Defaulting fills what is missing, never overwrites, and is idempotent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use prepull_api::node_image::{ImagePullPhase, ImageStatus, ImageTagStatus, NodeImageStatus};
use prepull_api::{ImageListPullJob, ImagePullJob, NodeImage};

fn time(text: &str) -> Time {
    Time(text.parse::<Timestamp>().unwrap())
}

#[test]
fn an_empty_job_template_gets_every_default() {
    let mut job: ImagePullJob =
        serde_json::from_value(json!({"spec": {"image": "nginx"}})).unwrap();
    job.apply_defaults();
    assert_eq!(
        serde_json::to_value(&job.spec).unwrap(),
        json!({
            "image": "nginx",
            "parallelism": 1,
            "pullPolicy": {"timeoutSeconds": 600, "backoffLimit": 3},
            "completionPolicy": {"type": "Always"},
            "imagePullPolicy": "IfNotPresent",
        })
    );
}

#[test]
fn each_missing_piece_is_filled_and_set_values_are_kept() {
    let mut job: ImageListPullJob = serde_json::from_value(json!({"spec": {
        "images": ["nginx"],
        "parallelism": 0,
        "pullPolicy": {"backoffLimit": 0},
        "completionPolicy": {"type": "Never"},
        "imagePullPolicy": "Always",
    }}))
    .unwrap();
    job.apply_defaults();
    let template = &job.spec.template;
    assert_eq!(template.parallelism, Some(IntOrString::Int(0)));
    let pull_policy = template.pull_policy.as_ref().unwrap();
    assert_eq!(
        (pull_policy.timeout_seconds, pull_policy.backoff_limit),
        (Some(600), Some(0))
    );
    assert_eq!(
        serde_json::to_value(&template.completion_policy).unwrap(),
        json!({"type": "Never"})
    );
    assert_eq!(
        serde_json::to_value(&template.image_pull_policy).unwrap(),
        json!("Always")
    );
}

#[test]
fn job_defaulting_is_idempotent() {
    let mut job: ImagePullJob =
        serde_json::from_value(json!({"spec": {"image": "nginx", "pullPolicy": {}}})).unwrap();
    job.apply_defaults();
    let once = job.clone();
    job.apply_defaults();
    assert_eq!(job, once);
}

#[test]
fn node_image_tags_get_created_at_now_and_pull_policy_defaults() {
    let mut node: NodeImage =
        serde_json::from_value(json!({"spec": {"images": {"nginx": {"tags": [
            {"tag": "b", "pullPolicy": {"ttlSecondsAfterFinished": 0, "backoffLimit": 1}},
            {"tag": "a", "createdAt": "2020-01-01T00:00:00Z"},
        ]}}}}))
        .unwrap();
    let now = time("2024-08-09T10:00:00Z");
    node.apply_defaults(&now);
    let tags = &node.spec.images["nginx"].tags;
    assert_eq!(
        tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(),
        ["a", "b"],
        "sorted by tag"
    );
    assert_eq!(
        tags[0].created_at,
        Some(time("2020-01-01T00:00:00Z")),
        "a set createdAt is kept"
    );
    assert_eq!(tags[1].created_at, Some(now.clone()));
    assert_eq!(
        serde_json::to_value(&tags[1].pull_policy).unwrap(),
        json!({"timeoutSeconds": 600, "backoffLimit": 1, "ttlSecondsAfterFinished": 0})
    );
    assert_eq!(
        serde_json::to_value(&tags[0].pull_policy).unwrap(),
        json!({"timeoutSeconds": 600, "backoffLimit": 3}),
        "no ttl default: validation requires it"
    );

    let once = node.clone();
    node.apply_defaults(&time("2030-01-01T00:00:00Z"));
    assert_eq!(node, once, "idempotent, even with a later now");
}

#[test]
fn node_image_status_tags_are_sorted_by_tag() {
    let status_tag = |tag: &str| ImageTagStatus {
        tag: tag.into(),
        phase: ImagePullPhase::Waiting,
        ..ImageTagStatus::default()
    };
    let mut node = NodeImage {
        status: Some(NodeImageStatus {
            image_statuses: [(
                "nginx".to_owned(),
                ImageStatus {
                    tags: vec![status_tag("v2"), status_tag("latest"), status_tag("v10")],
                },
            )]
            .into(),
            ..NodeImageStatus::default()
        }),
        ..NodeImage::default()
    };
    node.sort_tags();
    let tags: Vec<_> = node.status.unwrap().image_statuses["nginx"]
        .tags
        .iter()
        .map(|t| t.tag.clone())
        .collect();
    assert_eq!(tags, ["latest", "v10", "v2"]);
}
