//! ImageListPullJob validation: the image list rules plus the shared template rules.

use prepull_api::field_error::FieldErrorType::{self, *};
use prepull_api::job_template::{CompletionPolicyType, ImagePullJobNodeSelector};
use prepull_api::validation::Validate;
use prepull_api::validation::image_list_pull_job::MAX_IMAGES;
use prepull_api::{ImageListPullJob, ImageListPullJobSpec};

fn job(images: &[&str]) -> ImageListPullJob {
    let mut job = ImageListPullJob::new(
        "pull-many",
        ImageListPullJobSpec {
            images: images.iter().map(|i| i.to_string()).collect(),
            ..ImageListPullJobSpec::default()
        },
    );
    job.metadata.namespace = Some("default".into());
    job.apply_defaults();
    job
}

fn errors(job: &ImageListPullJob) -> Vec<(String, FieldErrorType)> {
    job.validate_create()
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect()
}

fn one(field: &str, kind: FieldErrorType) -> Vec<(String, FieldErrorType)> {
    vec![(field.to_owned(), kind)]
}

#[test]
fn a_list_of_distinct_valid_images_is_valid() {
    assert_eq!(
        errors(&job(&["nginx:1.9.1", "busybox:1.29.2", "ghcr.io/org/app"])),
        vec![]
    );
}

#[test]
fn at_least_one_image_is_required() {
    assert_eq!(errors(&job(&[])), one("spec.images", Required));
}

#[test]
fn at_most_255_images_are_allowed() {
    let names: Vec<String> = (0..=MAX_IMAGES)
        .map(|i| format!("registry.local/app{i}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(errors(&job(&refs[..MAX_IMAGES])), vec![]);
    let found = job(&refs).validate_create();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].field.as_str(), found[0].kind),
        ("spec.images", TooMany)
    );
    assert_eq!(
        found[0].message(),
        "spec.images: Too many: 256: must have at most 255 items"
    );
}

#[test]
fn images_must_not_repeat() {
    assert_eq!(
        errors(&job(&["nginx", "busybox", "nginx"])),
        one("spec.images[2]", Duplicate)
    );
}

#[test]
fn each_image_must_be_a_docker_reference() {
    assert_eq!(
        errors(&job(&["nginx", "NGINX"])),
        one("spec.images[1]", Invalid)
    );
    assert_eq!(
        errors(&job(&["nginx", ""])),
        one("spec.images[1]", Required)
    );
}

#[test]
fn the_template_rules_apply_to_list_jobs_too() {
    let mut both = job(&["nginx"]);
    let mut selector = ImagePullJobNodeSelector {
        names: Some(vec!["node-1".into()]),
        ..Default::default()
    };
    selector.label_selector.match_labels = Some([("a".to_owned(), "b".to_owned())].into());
    both.spec.template.selector = Some(selector);
    assert_eq!(errors(&both), one("spec.selector", Invalid));

    let mut never = job(&["nginx"]);
    never.spec.template.completion_policy.type_ = Some(CompletionPolicyType::Never);
    assert_eq!(errors(&never), vec![]);
    never
        .spec
        .template
        .completion_policy
        .ttl_seconds_after_finished = Some(10);
    assert_eq!(
        errors(&never),
        one("spec.completionPolicy.ttlSecondsAfterFinished", Forbidden)
    );
}

#[test]
fn pull_secrets_cannot_change_on_update() {
    let mut old = job(&["nginx"]);
    old.metadata.resource_version = Some("3".into());
    let mut new = old.clone();
    new.spec.images.push("busybox".into());
    assert_eq!(new.validate_update(&old), vec![]);
    new.spec.template.pull_secrets = vec!["regcred".into()];
    let fields: Vec<_> = new
        .validate_update(&old)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, vec!["spec.pullSecrets"]);
}
