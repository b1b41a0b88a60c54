//! Every ImagePullJob validation rule of the API contract, each checked both ways: a valid
//! value passes, an invalid one fails with the right path and error type.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use prepull_api::field_error::FieldErrorType::{self, *};
use prepull_api::job_template::{
    CompletionPolicyType, ImagePullJobNodeSelector, ImagePullJobPodSelector, ImagePullPolicy,
    PullPolicy,
};
use prepull_api::validation::Validate;
use prepull_api::{ImagePullJob, ImagePullJobSpec};

/// A defaulted, valid job in namespace `default`.
fn job() -> ImagePullJob {
    let mut job = ImagePullJob::new(
        "pull-nginx",
        ImagePullJobSpec {
            image: "nginx:1.9.1".into(),
            ..ImagePullJobSpec::default()
        },
    );
    job.metadata.namespace = Some("default".into());
    job.apply_defaults();
    job
}

fn with(change: impl FnOnce(&mut ImagePullJob)) -> ImagePullJob {
    let mut job = job();
    change(&mut job);
    job
}

fn errors(job: &ImagePullJob) -> Vec<(String, FieldErrorType)> {
    job.validate_create()
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect()
}

fn one(field: &str, kind: FieldErrorType) -> Vec<(String, FieldErrorType)> {
    vec![(field.to_owned(), kind)]
}

fn names(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|n| n.to_string()).collect())
}

fn labels(pairs: &[(&str, &str)]) -> Option<std::collections::BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn the_defaulted_base_job_is_valid() {
    assert_eq!(errors(&job()), vec![]);
}

#[test]
fn the_image_is_required() {
    assert_eq!(
        errors(&with(|j| j.spec.image.clear())),
        one("spec.image", Required)
    );
}

#[test]
fn the_image_must_be_a_docker_reference() {
    for good in [
        "nginx",
        "localhost:5000/team/app:v1",
        "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert_eq!(
            errors(&with(|j| j.spec.image = good.into())),
            vec![],
            "{good}"
        );
    }
    for bad in ["Nginx:1", "nginx:bad tag", "nginx@sha256:abc", "nginx::1"] {
        assert_eq!(
            errors(&with(|j| j.spec.image = bad.into())),
            one("spec.image", Invalid),
            "{bad}"
        );
    }
}

#[test]
fn selector_names_and_a_label_selector_are_mutually_exclusive() {
    let by_names = with(|j| {
        j.spec.template.selector = Some(ImagePullJobNodeSelector {
            names: names(&["node-1"]),
            ..Default::default()
        })
    });
    assert_eq!(errors(&by_names), vec![]);
    let by_labels = with(|j| {
        let mut selector = ImagePullJobNodeSelector::default();
        selector.label_selector.match_labels = labels(&[("node-type", "gpu")]);
        j.spec.template.selector = Some(selector);
    });
    assert_eq!(errors(&by_labels), vec![]);

    let both_labels = with(|j| {
        let mut selector = ImagePullJobNodeSelector {
            names: names(&["node-1"]),
            ..Default::default()
        };
        selector.label_selector.match_labels = labels(&[("node-type", "gpu")]);
        j.spec.template.selector = Some(selector);
    });
    let found = both_labels.validate_create();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].field.as_str(), found[0].kind),
        ("spec.selector", Invalid)
    );
    assert!(
        found[0]
            .message()
            .ends_with("can not set both names and labelSelector")
    );

    let both_expressions = with(|j| {
        let mut selector = ImagePullJobNodeSelector {
            names: names(&["node-1"]),
            ..Default::default()
        };
        selector.label_selector.match_expressions = Some(vec![LabelSelectorRequirement {
            key: "zone".into(),
            operator: "Exists".into(),
            values: None,
        }]);
        j.spec.template.selector = Some(selector);
    });
    assert_eq!(errors(&both_expressions), one("spec.selector", Invalid));
}

#[test]
fn selector_names_must_not_repeat() {
    let unique = with(|j| {
        j.spec.template.selector = Some(ImagePullJobNodeSelector {
            names: names(&["a", "b", "c"]),
            ..Default::default()
        })
    });
    assert_eq!(errors(&unique), vec![]);
    let repeated = with(|j| {
        j.spec.template.selector = Some(ImagePullJobNodeSelector {
            names: names(&["a", "b", "a"]),
            ..Default::default()
        })
    });
    assert_eq!(errors(&repeated), one("spec.selector.names[2]", Duplicate));
}

#[test]
fn the_node_label_selector_follows_kubernetes_rules() {
    let select = |operator: &str, values: Option<Vec<String>>| {
        with(|j| {
            let mut selector = ImagePullJobNodeSelector::default();
            selector.label_selector.match_expressions = Some(vec![LabelSelectorRequirement {
                key: "zone".into(),
                operator: operator.into(),
                values,
            }]);
            j.spec.template.selector = Some(selector);
        })
    };
    assert_eq!(errors(&select("In", names(&["a"]))), vec![]);
    assert_eq!(errors(&select("DoesNotExist", None)), vec![]);
    assert_eq!(
        errors(&select("In", None)),
        one("spec.selector.matchExpressions[0].values", Required)
    );
    let bad_operator = errors(&select("Near", names(&["a"])));
    assert_eq!(bad_operator.len(), 1);
    assert!(
        bad_operator[0]
            .0
            .starts_with("spec.selector.matchExpressions[0]")
    );
    let bad_label = with(|j| {
        let mut selector = ImagePullJobNodeSelector::default();
        selector.label_selector.match_labels = labels(&[("bad key!", "v")]);
        j.spec.template.selector = Some(selector);
    });
    assert!(
        errors(&bad_label)
            .iter()
            .all(|(f, k)| f == "spec.selector.matchLabels" && *k == Invalid)
    );
    assert!(!errors(&bad_label).is_empty());
}

#[test]
fn a_pod_selector_excludes_a_node_selector() {
    let mut pod_selector = ImagePullJobPodSelector::default();
    pod_selector.label_selector.match_labels = labels(&[("app", "web")]);
    let pods_only = with(|j| j.spec.template.pod_selector = Some(pod_selector.clone()));
    assert_eq!(errors(&pods_only), vec![]);
    let both = with(|j| {
        j.spec.template.pod_selector = Some(pod_selector.clone());
        j.spec.template.selector = Some(ImagePullJobNodeSelector {
            names: names(&["node-1"]),
            ..Default::default()
        });
    });
    let found = both.validate_create();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].field.as_str(), found[0].kind),
        ("spec.podSelector", Invalid)
    );
    assert!(
        found[0]
            .detail
            .contains("can not set both selector and podSelector")
    );
}

#[test]
fn the_pod_selector_follows_kubernetes_rules() {
    let bad = with(|j| {
        let mut pod_selector = ImagePullJobPodSelector::default();
        pod_selector.label_selector.match_labels = labels(&[("app", "not a valid value!")]);
        j.spec.template.pod_selector = Some(pod_selector);
    });
    assert_eq!(errors(&bad), one("spec.podSelector.matchLabels", Invalid));
}

#[test]
fn parallelism_is_a_non_negative_integer_or_integer_string() {
    for good in [
        IntOrString::Int(0),
        IntOrString::Int(10),
        IntOrString::String("5".into()),
    ] {
        assert_eq!(
            errors(&with(|j| j.spec.template.parallelism = Some(good.clone()))),
            vec![],
            "{good:?}"
        );
    }
    for bad in [
        IntOrString::Int(-1),
        IntOrString::String("-1".into()),
        IntOrString::String("50%".into()),
        IntOrString::String("many".into()),
    ] {
        assert_eq!(
            errors(&with(|j| j.spec.template.parallelism = Some(bad.clone()))),
            one("spec.parallelism", Invalid),
            "{bad:?}"
        );
    }
}

#[test]
fn the_completion_policy_type_is_always_or_never() {
    for good in [CompletionPolicyType::Always, CompletionPolicyType::Never] {
        assert_eq!(
            errors(&with(
                |j| j.spec.template.completion_policy.type_ = Some(good.clone())
            )),
            vec![]
        );
    }
    let unknown = with(|j| j.spec.template.completion_policy.type_ = Some("Sometimes".into()));
    assert_eq!(
        errors(&unknown),
        one("spec.completionPolicy.type", NotSupported)
    );
    let missing = with(|j| j.spec.template.completion_policy.type_ = None);
    assert_eq!(
        errors(&missing),
        one("spec.completionPolicy.type", Required)
    );
}

#[test]
fn never_forbids_a_deadline_and_a_ttl() {
    let never = |deadline: Option<i64>, ttl: Option<i32>| {
        with(|j| {
            let policy = &mut j.spec.template.completion_policy;
            policy.type_ = Some(CompletionPolicyType::Never);
            policy.active_deadline_seconds = deadline;
            policy.ttl_seconds_after_finished = ttl;
        })
    };
    assert_eq!(errors(&never(None, None)), vec![]);
    assert_eq!(
        errors(&never(Some(1200), None)),
        one("spec.completionPolicy.activeDeadlineSeconds", Forbidden)
    );
    assert_eq!(
        errors(&never(None, Some(300))),
        one("spec.completionPolicy.ttlSecondsAfterFinished", Forbidden)
    );
}

#[test]
fn with_always_the_deadline_must_exceed_the_pull_timeout() {
    let always = |deadline: i64, timeout: Option<i32>| {
        with(|j| {
            j.spec.template.completion_policy.active_deadline_seconds = Some(deadline);
            j.spec.template.pull_policy = Some(PullPolicy {
                timeout_seconds: timeout,
                backoff_limit: Some(3),
            });
        })
    };
    assert_eq!(
        errors(&always(601, None)),
        vec![],
        "600 is the default timeout"
    );
    assert_eq!(errors(&always(100, Some(50))), vec![]);
    let field = "spec.completionPolicy.activeDeadlineSeconds";
    assert_eq!(errors(&always(300, None)), one(field, Invalid));
    assert_eq!(errors(&always(600, Some(600))), one(field, Invalid));
    assert_eq!(
        errors(&always(0, Some(50))),
        one(field, Invalid),
        "a deadline must be positive"
    );
}

#[test]
fn ttl_after_finished_is_not_negative() {
    assert_eq!(
        errors(&with(|j| j
            .spec
            .template
            .completion_policy
            .ttl_seconds_after_finished = Some(0))),
        vec![]
    );
    assert_eq!(
        errors(&with(|j| j
            .spec
            .template
            .completion_policy
            .ttl_seconds_after_finished = Some(-1))),
        one("spec.completionPolicy.ttlSecondsAfterFinished", Invalid)
    );
}

#[test]
fn image_pull_policy_is_always_or_if_not_present() {
    for good in [ImagePullPolicy::Always, ImagePullPolicy::IfNotPresent] {
        assert_eq!(
            errors(&with(
                |j| j.spec.template.image_pull_policy = Some(good.clone())
            )),
            vec![]
        );
    }
    let never = with(|j| j.spec.template.image_pull_policy = Some("Never".into()));
    let found = never.validate_create();
    assert_eq!(
        (found[0].field.as_str(), found[0].kind),
        ("spec.imagePullPolicy", NotSupported)
    );
    assert_eq!(
        found[0].message(),
        r#"spec.imagePullPolicy: Unsupported value: "Never": supported values: "Always", "IfNotPresent""#
    );
}

#[test]
fn the_pull_timeout_is_positive_and_the_backoff_limit_not_negative() {
    let policy = |timeout: i32, backoff: i32| {
        with(|j| {
            j.spec.template.pull_policy = Some(PullPolicy {
                timeout_seconds: Some(timeout),
                backoff_limit: Some(backoff),
            })
        })
    };
    assert_eq!(errors(&policy(1, 0)), vec![]);
    assert_eq!(
        errors(&policy(0, 3)),
        one("spec.pullPolicy.timeoutSeconds", Invalid)
    );
    assert_eq!(
        errors(&policy(600, -1)),
        one("spec.pullPolicy.backoffLimit", Invalid)
    );
}

#[test]
fn metadata_follows_kubernetes_rules() {
    assert_eq!(
        errors(&with(|j| j.metadata.name = Some("Bad_Name".into()))),
        one("metadata.name", Invalid)
    );
    assert_eq!(
        errors(&with(|j| j.metadata.namespace = None)),
        one("metadata.namespace", Required)
    );
}

fn stored() -> ImagePullJob {
    with(|j| {
        j.metadata.resource_version = Some("7".into());
        j.spec.template.pull_secrets = vec!["regcred".into()];
    })
}

#[test]
fn pull_secrets_cannot_change_on_update() {
    let old = stored();
    let mut unchanged = old.clone();
    unchanged.spec.template.parallelism = Some(IntOrString::Int(5));
    assert_eq!(unchanged.validate_update(&old), vec![]);
    let mut changed = old.clone();
    changed.spec.template.pull_secrets.push("another".into());
    let found: Vec<_> = changed
        .validate_update(&old)
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect();
    assert_eq!(found, one("spec.pullSecrets", Invalid));
}

#[test]
fn updates_apply_the_create_rules_to_the_new_spec() {
    let old = stored();
    let mut new = old.clone();
    new.spec.image = "Not A Reference".into();
    let found: Vec<_> = new
        .validate_update(&old)
        .into_iter()
        .map(|e| (e.field, e.kind))
        .collect();
    assert_eq!(found, one("spec.image", Invalid));
}
