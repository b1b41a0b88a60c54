//! ImageListPullJob validation.

use super::check_non_negative;
use super::job_template::{validate_template, validate_template_update};
use crate::field_error::{FieldError, FieldPath};
use crate::image_list_pull_job::{ImageListPullJob, ImageListPullJobStatus};
use crate::object_meta::{validate_object_meta, validate_object_meta_update};
use crate::reference::ImageReference;

/// Most images one ImageListPullJob may list.
pub const MAX_IMAGES: usize = 255;

/// Errors in a new ImageListPullJob: metadata (namespaced); `spec.images` non-empty, at most
/// [`MAX_IMAGES`], no duplicates, each a valid docker reference; the template rules
/// ([`validate_template`]).
pub fn validate_create(job: &ImageListPullJob) -> Vec<FieldError> {
    let mut errors = validate_object_meta(&job.metadata, true, &FieldPath::new("metadata"));
    errors.extend(validate_spec(job));
    errors
}

/// Errors in an update: metadata update rules, the create rules on the new spec, and
/// `spec.pullSecrets` immutable (as for ImagePullJob, whose children inherit it).
pub fn validate_update(new: &ImageListPullJob, old: &ImageListPullJob) -> Vec<FieldError> {
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

/// Errors in a status update: metadata update rules and counters >= 0.
pub fn validate_status_update(new: &ImageListPullJob, old: &ImageListPullJob) -> Vec<FieldError> {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    if let Some(status) = &new.status {
        errors.extend(validate_status(status, &FieldPath::new("status")));
    }
    errors
}

fn validate_spec(job: &ImageListPullJob) -> Vec<FieldError> {
    let spec = FieldPath::new("spec");
    let path = spec.child("images");
    let images = &job.spec.images;
    let mut errors = Vec::new();
    if images.is_empty() {
        errors.push(FieldError::required(
            &path,
            "at least one image is required",
        ));
    }
    if images.len() > MAX_IMAGES {
        errors.push(FieldError::too_many(&path, images.len(), MAX_IMAGES));
    }
    for (index, image) in images.iter().enumerate() {
        let item = path.index(index);
        if image.is_empty() {
            errors.push(FieldError::required(&item, ""));
        } else if images[..index].contains(image) {
            errors.push(FieldError::duplicate(&item, image.as_str()));
        } else if let Err(error) = ImageReference::parse(image) {
            errors.push(FieldError::invalid(
                &item,
                image.as_str(),
                error.to_string(),
            ));
        }
    }
    errors.extend(validate_template(&job.spec.template, &spec));
    errors
}

fn validate_status(status: &ImageListPullJobStatus, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in [
        ("desired", status.desired),
        ("active", status.active),
        ("completed", status.completed),
        ("succeeded", status.succeeded),
    ] {
        check_non_negative(&mut errors, &path.child(name), value.into());
    }
    errors
}
