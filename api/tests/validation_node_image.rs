//! NodeImage validation: image and tag rules, checked after defaulting as the server does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prepull_api::field_error::FieldErrorType::{self, *};
use prepull_api::node_image::{ImageSpec, ImageTagPullPolicy, ImageTagSpec, ReferenceObject};
use prepull_api::validation::Validate;
use prepull_api::validation::node_image::MAX_IMAGES;
use prepull_api::{NodeImage, NodeImageSpec};

fn now() -> Time {
    Time("2024-08-09T10:00:00Z".parse::<Timestamp>().unwrap())
}

fn tag(tag: &str) -> ImageTagSpec {
    ImageTagSpec {
        tag: tag.into(),
        pull_policy: Some(ImageTagPullPolicy {
            ttl_seconds_after_finished: Some(300),
            ..ImageTagPullPolicy::default()
        }),
        ..ImageTagSpec::default()
    }
}

/// A defaulted NodeImage pulling `images`, each with the given tags.
fn node(images: &[(&str, Vec<ImageTagSpec>)]) -> NodeImage {
    let spec = NodeImageSpec {
        images: images
            .iter()
            .map(|(name, tags)| {
                let image = ImageSpec {
                    tags: tags.clone(),
                    ..ImageSpec::default()
                };
                (name.to_string(), image)
            })
            .collect(),
    };
    let mut node = NodeImage::new("node-1", spec);
    node.apply_defaults(&now());
    node
}

fn errors(node: &NodeImage) -> Vec<(String, FieldErrorType)> {
    node.validate_create()
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect()
}

fn one(field: &str, kind: FieldErrorType) -> Vec<(String, FieldErrorType)> {
    vec![(field.to_owned(), kind)]
}

#[test]
fn a_defaulted_node_image_with_ttls_is_valid() {
    assert_eq!(
        errors(&node(&[
            ("nginx", vec![tag("1.9.1"), tag("latest")]),
            ("busybox", vec![tag("1")])
        ])),
        vec![]
    );
}

#[test]
fn at_most_256_images_are_allowed() {
    let names: Vec<String> = (0..=MAX_IMAGES).map(|i| format!("app{i}")).collect();
    let images: Vec<(&str, Vec<ImageTagSpec>)> = names
        .iter()
        .map(|n| (n.as_str(), vec![tag("v1")]))
        .collect();
    assert_eq!(errors(&node(&images[..MAX_IMAGES])), vec![]);
    assert_eq!(errors(&node(&images)), one("spec.images", TooMany));
}

#[test]
fn image_names_must_not_be_empty() {
    assert_eq!(
        errors(&node(&[("", vec![tag("v1")])])),
        one("spec.images", Invalid)
    );
}

#[test]
fn tags_must_not_be_empty_or_repeated_within_an_image() {
    assert_eq!(
        errors(&node(&[("nginx", vec![tag("")])])),
        one("spec.images[nginx].tags[0].tag", Required)
    );
    assert_eq!(
        errors(&node(&[("nginx", vec![tag("v1"), tag("v1")])])),
        one("spec.images[nginx].tags[1].tag", Duplicate)
    );
    assert_eq!(
        errors(&node(&[
            ("nginx", vec![tag("v1")]),
            ("busybox", vec![tag("v1")])
        ])),
        vec![]
    );
}

#[test]
fn created_at_pull_policy_and_ttl_are_required_after_defaulting() {
    let mut undefaulted = NodeImage::new(
        "node-1",
        NodeImageSpec {
            images: [(
                "nginx".to_owned(),
                ImageSpec {
                    tags: vec![ImageTagSpec {
                        tag: "v1".into(),
                        ..ImageTagSpec::default()
                    }],
                    ..ImageSpec::default()
                },
            )]
            .into(),
        },
    );
    assert_eq!(
        errors(&undefaulted),
        vec![
            ("spec.images[nginx].tags[0].createdAt".to_owned(), Required),
            ("spec.images[nginx].tags[0].pullPolicy".to_owned(), Required),
        ]
    );
    undefaulted.apply_defaults(&now());
    assert_eq!(
        errors(&undefaulted),
        one(
            "spec.images[nginx].tags[0].pullPolicy.ttlSecondsAfterFinished",
            Required
        )
    );
}

#[test]
fn the_tag_version_is_not_negative() {
    let mut versioned = tag("v1");
    versioned.version = 4;
    assert_eq!(errors(&node(&[("nginx", vec![versioned.clone()])])), vec![]);
    versioned.version = -1;
    assert_eq!(
        errors(&node(&[("nginx", vec![versioned])])),
        one("spec.images[nginx].tags[0].version", Invalid)
    );
}

#[test]
fn tag_pull_policy_numbers_and_image_pull_policy_are_checked() {
    let mut bad = tag("v1");
    bad.pull_policy = Some(ImageTagPullPolicy {
        timeout_seconds: Some(0),
        backoff_limit: Some(-1),
        ttl_seconds_after_finished: Some(-5),
        active_deadline_seconds: Some(0),
    });
    bad.image_pull_policy = Some("Never".into());
    let prefix = "spec.images[nginx].tags[0].";
    let expected: Vec<(String, FieldErrorType)> = [
        ("imagePullPolicy", NotSupported),
        ("pullPolicy.ttlSecondsAfterFinished", Invalid),
        ("pullPolicy.timeoutSeconds", Invalid),
        ("pullPolicy.backoffLimit", Invalid),
        ("pullPolicy.activeDeadlineSeconds", Invalid),
    ]
    .into_iter()
    .map(|(f, k)| (format!("{prefix}{f}"), k))
    .collect();
    assert_eq!(errors(&node(&[("nginx", vec![bad])])), expected);
}

#[test]
fn metadata_is_validated_as_cluster_scoped() {
    let mut namespaced = node(&[]);
    namespaced.metadata.namespace = Some("default".into());
    assert_eq!(errors(&namespaced), one("metadata.namespace", Forbidden));
}

#[test]
fn updates_apply_the_create_rules_to_the_new_spec() {
    let mut old = node(&[("nginx", vec![tag("v1")])]);
    old.metadata.resource_version = Some("9".into());
    let mut new = old.clone();
    let mut repeated = tag("v1");
    repeated.created_at = Some(now());
    new.spec
        .images
        .get_mut("nginx")
        .unwrap()
        .tags
        .push(repeated);
    let fields: Vec<_> = new
        .validate_update(&old)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, vec!["spec.images[nginx].tags[1].tag"]);
}

#[test]
fn pull_secrets_need_a_namespace_and_a_name_each_pair_once() {
    let secret = |namespace: &str, name: &str| ReferenceObject {
        namespace: namespace.into(),
        name: name.into(),
        ..ReferenceObject::default()
    };
    let mut node = node(&[("nginx", vec![tag("1")])]);
    let image = node.spec.images.get_mut("nginx").unwrap();
    image.pull_secrets = vec![secret("team-a", "regcred"), secret("team-b", "regcred")];
    assert_eq!(errors(&node), vec![]);

    let image = node.spec.images.get_mut("nginx").unwrap();
    image.pull_secrets = vec![
        secret("team-a", "regcred"),
        secret("", "regcred"),
        secret("team-a", ""),
        secret("team-a", "regcred"),
    ];
    assert_eq!(
        errors(&node),
        vec![
            (
                "spec.images[nginx].pullSecrets[1].namespace".to_owned(),
                Required
            ),
            (
                "spec.images[nginx].pullSecrets[2].name".to_owned(),
                Required
            ),
            ("spec.images[nginx].pullSecrets[3]".to_owned(), Duplicate),
        ]
    );
}
