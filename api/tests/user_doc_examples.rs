//! The examples of the OpenKruise user manual decode into our types with the meaning the
//! manual gives them, and validation treats them as OpenKruise does.

mod fixtures;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use prepull_api::field_error::FieldErrorType;
use prepull_api::job_template::{CompletionPolicyType, ImagePullPolicy};
use prepull_api::node_image::ImagePullPhase;
use prepull_api::strict::decode;
use prepull_api::validation::Validate;
use prepull_api::{ApiVersion, ImageListPullJob, ImagePullJob, NodeImage};

fn now() -> Time {
    Time("2024-08-09T10:00:00Z".parse::<Timestamp>().unwrap())
}

#[test]
fn the_job_with_always_example_decodes_with_every_documented_field() {
    let decoded = decode::<ImagePullJob>(
        &fixtures::body("docs-image-pull-job-with-always.yaml"),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert!(
        decoded.is_strictly_valid(),
        "{:?}",
        decoded.strict_messages()
    );
    let job = decoded.object;
    assert_eq!(job.metadata.name.as_deref(), Some("job-with-always"));
    assert_eq!(job.spec.image, "nginx:1.9.1");
    let template = &job.spec.template;
    assert_eq!(template.parallelism, Some(IntOrString::Int(10)));
    let selector = template.selector.as_ref().unwrap();
    assert_eq!(
        selector.names.as_deref(),
        Some(&["node-1".to_owned(), "node-2".to_owned()][..])
    );
    assert_eq!(
        selector.label_selector.match_labels.as_ref().unwrap()["node-type"],
        "xxx"
    );
    assert_eq!(
        template.completion_policy.type_,
        Some(CompletionPolicyType::Always)
    );
    assert_eq!(
        template.completion_policy.active_deadline_seconds,
        Some(1200)
    );
    assert_eq!(
        template.completion_policy.ttl_seconds_after_finished,
        Some(300)
    );
    let pull_policy = template.pull_policy.as_ref().unwrap();
    assert_eq!(
        (pull_policy.backoff_limit, pull_policy.timeout_seconds),
        (Some(3), Some(300))
    );
}

#[test]
fn the_job_with_always_example_is_rejected_for_setting_names_and_match_labels_together() {
    let mut job: ImagePullJob =
        serde_json::from_value(fixtures::value("docs-image-pull-job-with-always.yaml")).unwrap();
    job.metadata.namespace = Some("default".into());
    job.apply_defaults();
    let errors = job.validate_create();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.selector");
    assert_eq!(errors[0].kind, FieldErrorType::Invalid);
    assert!(
        errors[0]
            .detail
            .contains("can not set both names and labelSelector")
    );
}

#[test]
fn the_job_with_always_example_is_accepted_once_it_keeps_only_the_names() {
    let mut job: ImagePullJob =
        serde_json::from_value(fixtures::value("docs-image-pull-job-with-always.yaml")).unwrap();
    job.metadata.namespace = Some("default".into());
    job.spec
        .template
        .selector
        .as_mut()
        .unwrap()
        .label_selector
        .match_labels = None;
    job.apply_defaults();
    assert_eq!(job.validate_create(), vec![]);
}

#[test]
fn the_image_list_pull_job_example_lists_both_images_and_is_rejected_on_its_selector() {
    let decoded = decode::<ImageListPullJob>(
        &fixtures::body("docs-image-list-pull-job.yaml"),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert!(decoded.is_strictly_valid());
    let mut job = decoded.object;
    assert_eq!(job.spec.images, vec!["nginx:1.9.1", "busybox:1.29.2"]);
    assert_eq!(job.spec.template.parallelism, Some(IntOrString::Int(10)));
    job.metadata.namespace = Some("default".into());
    job.apply_defaults();
    let fields: Vec<_> = job.validate_create().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["spec.selector"]);
}

#[test]
fn the_sandbox_config_and_pull_policy_snippets_decode_and_validate() {
    let mut sandbox: ImagePullJob =
        serde_json::from_value(fixtures::value("docs-image-pull-job-sandbox-config.yaml")).unwrap();
    let config = sandbox.spec.template.sandbox_config.as_ref().unwrap();
    assert_eq!(
        config.annotations["io.kubernetes.image.metrics.tags"],
        "cluster=cn-shanghai"
    );
    assert_eq!(config.labels["io.kubernetes.image.app"], "foo");
    sandbox.apply_defaults();
    assert_eq!(sandbox.validate_create(), vec![]);

    let mut always: ImagePullJob = serde_json::from_value(fixtures::value(
        "docs-image-pull-job-pull-policy-always.yaml",
    ))
    .unwrap();
    assert_eq!(
        always.spec.template.image_pull_policy,
        Some(ImagePullPolicy::Always)
    );
    assert_eq!(
        always.spec.template.pull_secrets,
        vec!["secret-name1", "secret-name2"]
    );
    always.apply_defaults();
    assert_eq!(always.validate_create(), vec![]);
}

#[test]
fn the_empty_node_image_example_round_trips_with_its_zero_counters() {
    let input = fixtures::value("docs-node-image-empty.yaml");
    let node: NodeImage = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(
        node.metadata.labels.as_ref().unwrap()["kubernetes.io/arch"],
        "amd64"
    );
    assert!(node.spec.images.is_empty());
    let mut expected = input;
    expected["status"]["waiting"] = 0.into();
    assert_eq!(serde_json::to_value(&node).unwrap(), expected);
}

#[test]
fn the_kubectl_edit_node_image_spec_is_valid_after_defaulting() {
    let mut node: NodeImage =
        serde_json::from_value(fixtures::value("docs-node-image-edit.yaml")).unwrap();
    let policy = node.spec.images["ubuntu"].tags[0]
        .pull_policy
        .clone()
        .unwrap();
    assert_eq!(policy.ttl_seconds_after_finished, Some(300));
    assert_eq!(policy.active_deadline_seconds, Some(1200));
    node.apply_defaults(&now());
    assert_eq!(node.validate_create(), vec![]);
}

#[test]
fn the_kubectl_patch_merge_body_adds_a_tag_that_defaults_make_valid() {
    let mut object = fixtures::value("docs-node-image-empty.yaml");
    json_patch::merge(
        &mut object,
        &fixtures::value("docs-node-image-merge-patch.json"),
    );
    let decoded =
        decode::<NodeImage>(&serde_json::to_vec(&object).unwrap(), ApiVersion::V1alpha1).unwrap();
    assert!(decoded.is_strictly_valid());
    let mut node = decoded.object;
    let tag = &node.spec.images["ubuntu"].tags[0];
    assert_eq!(tag.tag, "latest");
    assert!(
        tag.created_at.is_none(),
        "createdAt is set by defaulting, not by the client"
    );
    assert_eq!(
        node.validate_create()
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>(),
        ["spec.images[ubuntu].tags[0].createdAt"]
    );

    node.apply_defaults(&now());
    let tag = &node.spec.images["ubuntu"].tags[0];
    assert_eq!(tag.created_at, Some(now()));
    let policy = tag.pull_policy.as_ref().unwrap();
    assert_eq!(
        (
            policy.timeout_seconds,
            policy.backoff_limit,
            policy.ttl_seconds_after_finished
        ),
        (Some(600), Some(3), Some(300))
    );
    assert_eq!(node.validate_create(), vec![]);
}

#[test]
fn the_faq_status_of_a_failed_job_round_trips() {
    let input = fixtures::value("docs-image-pull-job-failed-status.yaml");
    let job: ImagePullJob = serde_json::from_value(input.clone()).unwrap();
    let status = job.status.as_ref().unwrap();
    assert_eq!(
        (
            status.desired,
            status.failed,
            status.active,
            status.succeeded
        ),
        (4, 4, 0, 0)
    );
    assert_eq!(status.failed_nodes.len(), 4);
    assert_eq!(status.message, "job has completed");
    let mut output = serde_json::to_value(&job).unwrap();
    // Our spec is always serialized (as OpenKruise's Go struct is), with its completionPolicy.
    assert_eq!(
        output.as_object_mut().unwrap().remove("spec"),
        Some(serde_json::json!({"image": "", "completionPolicy": {}}))
    );
    output.as_object_mut().unwrap().remove("metadata");
    assert_eq!(output, input);
}

#[test]
fn the_faq_node_image_status_reports_the_failed_tag() {
    let node: NodeImage =
        serde_json::from_value(fixtures::value("docs-node-image-failed-status.yaml")).unwrap();
    let status = node.status.unwrap();
    let tag = &status.image_statuses["nginx"].tags[0];
    assert_eq!(tag.tag, "1.9.1");
    assert_eq!(tag.phase, ImagePullPhase::Failed);
    assert!(tag.message.contains("DeadlineExceeded"));
    assert_eq!(
        tag.completion_time.as_ref().unwrap().0.to_string(),
        "2024-08-09T10:06:22Z"
    );
}
