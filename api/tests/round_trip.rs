//! Our JSON is OpenKruise's JSON: full objects survive decode + encode unchanged, counters are
//! always written, and Go's `omitempty` fields are left out when empty.

mod fixtures;

use serde_json::{Value, json};

use prepull_api::image_pull_job::ImagePullJobStatus;
use prepull_api::node_image::{ImageTagStatus, NodeImageStatus};
use prepull_api::{ImageListPullJob, ImageListPullJobStatus, ImagePullJob, NodeImage};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(input: &Value) -> Value {
    let typed: T = serde_json::from_value(input.clone()).expect("decodes");
    serde_json::to_value(&typed).expect("encodes")
}

#[test]
fn a_full_image_pull_job_serializes_to_exactly_its_input() {
    let input = fixtures::value("full-image-pull-job.json");
    assert_eq!(round_trip::<ImagePullJob>(&input), input);
}

#[test]
fn a_full_image_list_pull_job_serializes_to_exactly_its_input() {
    let input = fixtures::value("full-image-list-pull-job.json");
    assert_eq!(round_trip::<ImageListPullJob>(&input), input);
}

#[test]
fn a_full_node_image_serializes_to_exactly_its_input() {
    let input = fixtures::value("full-node-image.json");
    assert_eq!(round_trip::<NodeImage>(&input), input);
}

#[test]
fn zero_counters_are_always_written() {
    assert_eq!(
        serde_json::to_value(ImagePullJobStatus::default()).unwrap(),
        json!({"desired": 0, "active": 0, "succeeded": 0, "failed": 0})
    );
    assert_eq!(
        serde_json::to_value(ImageListPullJobStatus::default()).unwrap(),
        json!({"desired": 0, "active": 0, "completed": 0, "succeeded": 0})
    );
    assert_eq!(
        serde_json::to_value(NodeImageStatus::default()).unwrap(),
        json!({"desired": 0, "succeeded": 0, "failed": 0, "pulling": 0, "waiting": 0})
    );
}

#[test]
fn the_image_id_key_is_spelled_with_a_capital_id() {
    let tag = ImageTagStatus {
        tag: "v1".into(),
        image_id: "sha256:abc".into(),
        ..ImageTagStatus::default()
    };
    let json = serde_json::to_value(&tag).unwrap();
    assert_eq!(json["imageID"], "sha256:abc");
    assert_eq!(json["phase"], "", "phase is not omitempty in OpenKruise");
    let back: ImageTagStatus = serde_json::from_value(json).unwrap();
    assert_eq!(back.image_id, "sha256:abc");
}

#[test]
fn omitempty_fields_are_left_out_and_empty_enums_read_as_unset() {
    let job: ImagePullJob = serde_json::from_value(json!({
        "spec": {"image": "nginx", "imagePullPolicy": "", "completionPolicy": {"type": ""}, "pullSecrets": []},
        "status": {"message": "", "failedNodes": []}
    }))
    .unwrap();
    assert_eq!(job.spec.template.image_pull_policy, None);
    assert_eq!(job.spec.template.completion_policy.type_, None);
    let json = serde_json::to_value(&job).unwrap();
    assert_eq!(
        json["spec"],
        json!({"image": "nginx", "completionPolicy": {}})
    );
    assert_eq!(
        json["status"],
        json!({"desired": 0, "active": 0, "succeeded": 0, "failed": 0})
    );
}

#[test]
fn an_object_without_status_is_written_without_a_status_key() {
    let job = ImagePullJob::default();
    let json = serde_json::to_value(&job).unwrap();
    assert!(json.get("status").is_none());
    assert_eq!(json["apiVersion"], "apps.kruise.io/v1alpha1");
    assert_eq!(json["kind"], "ImagePullJob");
}

#[test]
fn unknown_enum_values_are_kept_verbatim_for_validation_to_report() {
    let job: ImagePullJob =
        serde_json::from_value(json!({"spec": {"imagePullPolicy": "Sometimes"}})).unwrap();
    let json = serde_json::to_value(&job).unwrap();
    assert_eq!(json["spec"]["imagePullPolicy"], "Sometimes");
}
