//! Rules shared by ImagePullJob and ImageListPullJob: the inlined job template.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{check_non_negative, check_positive};
use crate::defaults::DEFAULT_TIMEOUT_SECONDS;
use crate::field_error::{FieldError, FieldPath};
use crate::job_template::{CompletionPolicyType, ImagePullJobTemplate, ImagePullPolicy};
use crate::label_selector::validate_label_selector;

/// Errors in a job template inlined at `spec` (paths are `spec.selector`, ...).
///
/// - `selector`: `names` and a label selector together -> Invalid
///   "can not set both names and labelSelector"; repeated names -> Duplicate; label selector
///   rules as in Kubernetes.
/// - `podSelector` with `selector` -> Invalid "can not set both selector and podSelector";
///   label selector rules.
/// - `parallelism`: an integer, or a string holding one, >= 0; percentages are Invalid.
/// - `pullPolicy`: `timeoutSeconds` > 0, `backoffLimit` >= 0.
/// - `completionPolicy.type` Always or Never (Required when missing). With Never,
///   `activeDeadlineSeconds` and `ttlSecondsAfterFinished` are Forbidden; with Always,
///   `activeDeadlineSeconds` must be greater than `pullPolicy.timeoutSeconds` (600 if unset).
///   `activeDeadlineSeconds` > 0 and `ttlSecondsAfterFinished` >= 0 in any case.
/// - `imagePullPolicy` Always or IfNotPresent (unset is allowed: it defaults).
pub fn validate_template(template: &ImagePullJobTemplate, spec: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(validate_selectors(template, spec));
    if let Some(parallelism) = &template.parallelism {
        errors.extend(validate_parallelism(
            parallelism,
            &spec.child("parallelism"),
        ));
    }
    if let Some(policy) = &template.pull_policy {
        let path = spec.child("pullPolicy");
        if let Some(timeout) = policy.timeout_seconds {
            check_positive(&mut errors, &path.child("timeoutSeconds"), timeout.into());
        }
        if let Some(backoff) = policy.backoff_limit {
            check_non_negative(&mut errors, &path.child("backoffLimit"), backoff.into());
        }
    }
    errors.extend(validate_completion_policy(template, spec));
    if let Some(ImagePullPolicy::Other(value)) = &template.image_pull_policy {
        errors.push(FieldError::not_supported(
            &spec.child("imagePullPolicy"),
            value.as_str(),
            ImagePullPolicy::KNOWN,
        ));
    }
    errors
}

/// Errors in an update of a template: `pullSecrets` is immutable.
pub fn validate_template_update(
    new: &ImagePullJobTemplate,
    old: &ImagePullJobTemplate,
    spec: &FieldPath,
) -> Vec<FieldError> {
    if new.pull_secrets == old.pull_secrets {
        return Vec::new();
    }
    vec![FieldError::invalid(
        &spec.child("pullSecrets"),
        new.pull_secrets.clone(),
        "field is immutable",
    )]
}

fn validate_selectors(template: &ImagePullJobTemplate, spec: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(selector) = &template.selector {
        let path = spec.child("selector");
        if selector.names.is_some() && selector.has_label_selector() {
            errors.push(FieldError::invalid(
                &path,
                serde_json::to_value(selector).unwrap_or_default(),
                "can not set both names and labelSelector",
            ));
        }
        let names = selector.names.as_deref().unwrap_or_default();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                errors.push(FieldError::duplicate(
                    &path.child("names").index(index),
                    name.as_str(),
                ));
            }
        }
        errors.extend(validate_label_selector(&selector.label_selector, &path));
    }
    if let Some(pod_selector) = &template.pod_selector {
        let path = spec.child("podSelector");
        if template.selector.is_some() {
            errors.push(FieldError::invalid(
                &path,
                serde_json::to_value(pod_selector).unwrap_or_default(),
                "can not set both selector and podSelector",
            ));
        }
        errors.extend(validate_label_selector(&pod_selector.label_selector, &path));
    }
    errors
}

fn validate_parallelism(parallelism: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    let value = match parallelism {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) if s.ends_with('%') => {
            return vec![FieldError::invalid(
                path,
                s.as_str(),
                "percentage values are not supported",
            )];
        }
        IntOrString::String(s) => match s.parse::<i32>() {
            Ok(n) => i64::from(n),
            Err(_) => return vec![FieldError::invalid(path, s.as_str(), "must be an integer")],
        },
    };
    let mut errors = Vec::new();
    check_non_negative(&mut errors, path, value);
    errors
}

fn validate_completion_policy(
    template: &ImagePullJobTemplate,
    spec: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let policy = &template.completion_policy;
    let path = spec.child("completionPolicy");
    let deadline_path = path.child("activeDeadlineSeconds");
    let ttl_path = path.child("ttlSecondsAfterFinished");
    if let Some(deadline) = policy.active_deadline_seconds {
        check_positive(&mut errors, &deadline_path, deadline);
    }
    if let Some(ttl) = policy.ttl_seconds_after_finished {
        check_non_negative(&mut errors, &ttl_path, ttl.into());
    }
    match &policy.type_ {
        None => errors.push(FieldError::required(&path.child("type"), "")),
        Some(CompletionPolicyType::Always) => {
            let timeout = template
                .pull_policy
                .as_ref()
                .and_then(|p| p.timeout_seconds)
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
            if let Some(deadline) = policy.active_deadline_seconds
                && deadline > 0
                && deadline <= i64::from(timeout)
            {
                errors.push(FieldError::invalid(
                    &deadline_path,
                    deadline,
                    format!("must be greater than pullPolicy.timeoutSeconds ({timeout})"),
                ));
            }
        }
        Some(CompletionPolicyType::Never) => {
            let only_always = "may only be set when completionPolicy.type is Always";
            if policy.active_deadline_seconds.is_some() {
                errors.push(FieldError::forbidden(&deadline_path, only_always));
            }
            if policy.ttl_seconds_after_finished.is_some() {
                errors.push(FieldError::forbidden(&ttl_path, only_always));
            }
        }
        Some(CompletionPolicyType::Other(value)) => errors.push(FieldError::not_supported(
            &path.child("type"),
            value.as_str(),
            CompletionPolicyType::KNOWN,
        )),
    }
    errors
}
