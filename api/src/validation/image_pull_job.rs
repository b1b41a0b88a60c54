//! ImagePullJob validation.

use super::check_non_negative;
use super::job_template::{validate_template, validate_template_update};
use crate::field_error::{FieldError, FieldPath};
use crate::image_pull_job::{ImagePullJob, ImagePullJobStatus};
use crate::job_condition::{ConditionStatus, JobConditionType};
use crate::object_meta::{validate_object_meta, validate_object_meta_update};
use crate::reference::ImageReference;

/// Errors in a new ImagePullJob: metadata (namespaced), `spec.image` required and a valid
/// docker reference, and the template rules ([`validate_template`]).
pub fn validate_create(job: &ImagePullJob) -> Vec<FieldError> {
    let mut errors = validate_object_meta(&job.metadata, true, &FieldPath::new("metadata"));
    errors.extend(validate_spec(job));
    errors
}

/// Errors in an update: metadata update rules, the create rules on the new spec, and
/// `spec.pullSecrets` immutable.
pub fn validate_update(new: &ImagePullJob, old: &ImagePullJob) -> Vec<FieldError> {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    errors.extend(validate_spec(new));
    errors.extend(validate_template_update(
        &new.spec.template,
        &old.spec.template,
        &FieldPath::new("spec"),
    ));
    errors
}

/// Errors in a status update: metadata update rules; counters and `observedGeneration` >= 0;
/// condition types Complete/Failed and statuses True/False/Unknown.
pub fn validate_status_update(new: &ImagePullJob, old: &ImagePullJob) -> Vec<FieldError> {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    if let Some(status) = &new.status {
        errors.extend(validate_status(status, &FieldPath::new("status")));
    }
    errors
}

fn validate_spec(job: &ImagePullJob) -> Vec<FieldError> {
    let spec = FieldPath::new("spec");
    let mut errors = Vec::new();
    let image = &job.spec.image;
    if image.is_empty() {
        errors.push(FieldError::required(&spec.child("image"), ""));
    } else if let Err(error) = ImageReference::parse(image) {
        errors.push(FieldError::invalid(
            &spec.child("image"),
            image.as_str(),
            error.to_string(),
        ));
    }
    errors.extend(validate_template(&job.spec.template, &spec));
    errors
}

fn validate_status(status: &ImagePullJobStatus, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in [
        ("desired", status.desired),
        ("active", status.active),
        ("succeeded", status.succeeded),
        ("failed", status.failed),
    ] {
        check_non_negative(&mut errors, &path.child(name), value.into());
    }
    if let Some(generation) = status.observed_generation {
        check_non_negative(&mut errors, &path.child("observedGeneration"), generation);
    }
    for (index, condition) in status.conditions.iter().enumerate() {
        let path = path.child("conditions").index(index);
        if !condition.type_.is_known() {
            errors.push(FieldError::not_supported(
                &path.child("type"),
                condition.type_.as_str(),
                JobConditionType::KNOWN,
            ));
        }
        if !condition.status.is_known() {
            errors.push(FieldError::not_supported(
                &path.child("status"),
                condition.status.as_str(),
                ConditionStatus::KNOWN,
            ));
        }
    }
    errors
}
