//! NodeImage validation.

use super::{check_non_negative, check_positive};
use crate::field_error::{FieldError, FieldPath};
use crate::job_condition::ConditionStatus;
use crate::job_template::ImagePullPolicy;
use crate::node_image::{
    ImagePullPhase, ImageSpec, NodeImage, NodeImageStatus, ReferenceObject, SyncStatusPhase,
};
use crate::node_image_condition::NodeImageConditionType;
use crate::object_meta::{validate_object_meta, validate_object_meta_update};

/// Most images one NodeImage may list.
pub const MAX_IMAGES: usize = 256;

/// Errors in a new NodeImage: metadata (cluster-scoped); at most [`MAX_IMAGES`] images;
/// non-empty image names; per pull secret a namespace and a name, each pair at most once (they
/// are the keys of the list); per tag: non-empty and unique within its image, `createdAt`,
/// `pullPolicy` and `pullPolicy.ttlSecondsAfterFinished` present (after defaulting),
/// `version` >= 0, `timeoutSeconds` and `activeDeadlineSeconds` > 0, `backoffLimit` and
/// `ttlSecondsAfterFinished` >= 0, `imagePullPolicy` Always or IfNotPresent.
pub fn validate_create(node_image: &NodeImage) -> Vec<FieldError> {
    let mut errors = validate_object_meta(&node_image.metadata, false, &FieldPath::new("metadata"));
    errors.extend(validate_spec(node_image));
    errors
}

/// Errors in an update: metadata update rules and the create rules on the new spec.
pub fn validate_update(new: &NodeImage, old: &NodeImage) -> Vec<FieldError> {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    errors.extend(validate_spec(new));
    errors
}

/// Errors in a status update: metadata update rules; counters >= 0; per tag a known phase,
/// `progress` within 0..=100 and `version` >= 0; a known `firstSyncStatus.status`; per
/// condition a known type (each at most once) and status.
pub fn validate_status_update(new: &NodeImage, old: &NodeImage) -> Vec<FieldError> {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    if let Some(status) = &new.status {
        errors.extend(validate_status(status, &FieldPath::new("status")));
    }
    errors
}

fn validate_spec(node_image: &NodeImage) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("images");
    let images = &node_image.spec.images;
    let mut errors = Vec::new();
    if images.len() > MAX_IMAGES {
        errors.push(FieldError::too_many(&path, images.len(), MAX_IMAGES));
    }
    for (name, image) in images {
        if name.is_empty() {
            errors.push(FieldError::invalid(
                &path,
                "",
                "image name must not be empty",
            ));
        }
        errors.extend(validate_image(image, &path.key(name)));
    }
    errors
}

fn validate_image(image: &ImageSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, secret) in image.pull_secrets.iter().enumerate() {
        let path = path.child("pullSecrets").index(index);
        for (key, value) in [("namespace", &secret.namespace), ("name", &secret.name)] {
            if value.is_empty() {
                errors.push(FieldError::required(&path.child(key), ""));
            }
        }
        let same = |earlier: &ReferenceObject| {
            earlier.namespace == secret.namespace && earlier.name == secret.name
        };
        if image.pull_secrets[..index].iter().any(same) {
            errors.push(FieldError::duplicate(
                &path,
                format!("{}/{}", secret.namespace, secret.name),
            ));
        }
    }
    for (index, tag) in image.tags.iter().enumerate() {
        let path = path.child("tags").index(index);
        if tag.tag.is_empty() {
            errors.push(FieldError::required(&path.child("tag"), ""));
        } else if image.tags[..index]
            .iter()
            .any(|earlier| earlier.tag == tag.tag)
        {
            errors.push(FieldError::duplicate(&path.child("tag"), tag.tag.as_str()));
        }
        if tag.created_at.is_none() {
            errors.push(FieldError::required(&path.child("createdAt"), ""));
        }
        check_non_negative(&mut errors, &path.child("version"), tag.version);
        if let Some(ImagePullPolicy::Other(value)) = &tag.image_pull_policy {
            errors.push(FieldError::not_supported(
                &path.child("imagePullPolicy"),
                value.as_str(),
                ImagePullPolicy::KNOWN,
            ));
        }
        let policy_path = path.child("pullPolicy");
        let Some(policy) = &tag.pull_policy else {
            errors.push(FieldError::required(&policy_path, ""));
            continue;
        };
        match policy.ttl_seconds_after_finished {
            None => errors.push(FieldError::required(
                &policy_path.child("ttlSecondsAfterFinished"),
                "",
            )),
            Some(ttl) => check_non_negative(
                &mut errors,
                &policy_path.child("ttlSecondsAfterFinished"),
                ttl.into(),
            ),
        }
        if let Some(timeout) = policy.timeout_seconds {
            check_positive(
                &mut errors,
                &policy_path.child("timeoutSeconds"),
                timeout.into(),
            );
        }
        if let Some(backoff) = policy.backoff_limit {
            check_non_negative(
                &mut errors,
                &policy_path.child("backoffLimit"),
                backoff.into(),
            );
        }
        if let Some(deadline) = policy.active_deadline_seconds {
            check_positive(
                &mut errors,
                &policy_path.child("activeDeadlineSeconds"),
                deadline,
            );
        }
    }
    errors
}

fn validate_status(status: &NodeImageStatus, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in [
        ("desired", status.desired),
        ("succeeded", status.succeeded),
        ("failed", status.failed),
        ("pulling", status.pulling),
        ("waiting", status.waiting),
    ] {
        check_non_negative(&mut errors, &path.child(name), value.into());
    }
    for (name, image) in &status.image_statuses {
        for (index, tag) in image.tags.iter().enumerate() {
            let path = path
                .child("imageStatuses")
                .key(name)
                .child("tags")
                .index(index);
            if !tag.phase.is_known() {
                errors.push(FieldError::not_supported(
                    &path.child("phase"),
                    tag.phase.as_str(),
                    ImagePullPhase::KNOWN,
                ));
            }
            if !(0..=100).contains(&tag.progress) {
                errors.push(FieldError::invalid(
                    &path.child("progress"),
                    tag.progress,
                    "must be between 0 and 100, inclusive",
                ));
            }
            check_non_negative(&mut errors, &path.child("version"), tag.version);
        }
    }
    for (index, condition) in status.conditions.iter().enumerate() {
        let path = path.child("conditions").index(index);
        if !condition.type_.is_known() {
            errors.push(FieldError::not_supported(
                &path.child("type"),
                condition.type_.as_str(),
                NodeImageConditionType::KNOWN,
            ));
        } else if status.conditions[..index]
            .iter()
            .any(|earlier| earlier.type_ == condition.type_)
        {
            errors.push(FieldError::duplicate(
                &path.child("type"),
                condition.type_.as_str(),
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
    if let Some(SyncStatusPhase::Other(value)) = status
        .first_sync_status
        .as_ref()
        .and_then(|s| s.status.as_ref())
    {
        errors.push(FieldError::not_supported(
            &path.child("firstSyncStatus").child("status"),
            value.as_str(),
            SyncStatusPhase::KNOWN,
        ));
    }
    errors
}
