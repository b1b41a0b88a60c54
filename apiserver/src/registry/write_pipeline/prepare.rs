//! Step 2 of every write: the server's say over metadata and status before defaults and
//! validation run (kube-apiserver's `BeforeCreate`/`BeforeUpdate` and the custom resource
//! strategies' `PrepareForCreate`/`PrepareForUpdate`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube_core::Resource;

use crate::http::status::ApiError;
use crate::registry::generate_name::generate_name;
use crate::registry::params::Subresource;
use crate::registry::strategy::Strategy;

/// Prepares a new object: a fresh uid and creationTimestamp (`now`), generation 1, no
/// deletion fields, the name generated from `generateName` when unset, and the strategy's
/// create-time status. Returns whether the name was generated. A resourceVersion in the body
/// is refused (kube-apiserver fails such a create too, with this text).
pub(super) fn prepare_for_create<S: Strategy>(
    object: &mut S::Object,
    now: &Time,
) -> Result<bool, ApiError> {
    let meta = object.meta_mut();
    if meta
        .resource_version
        .as_deref()
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.uid = Some(uuid::Uuid::new_v4().to_string());
    meta.creation_timestamp = Some(now.clone());
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.self_link = None;
    meta.generation = Some(1);
    let generate = meta.name.as_deref().unwrap_or_default().is_empty()
        && !meta.generate_name.as_deref().unwrap_or_default().is_empty();
    if generate {
        meta.name = Some(generate_name(
            meta.generate_name.as_deref().unwrap_or_default(),
        ));
    }
    S::prepare_for_create(object);
    Ok(generate)
}

/// Prepares `new`, replacing the stored `old`, written through `subresource`:
/// - main resource: status stays the stored one; generation is the stored one, plus one when
///   the spec changed;
/// - `/status`: everything but status stays the stored object;
/// - either way uid, creationTimestamp and the deletion fields cannot be changed or removed.
pub(super) fn prepare_for_update<S: Strategy>(
    new: &mut S::Object,
    old: &S::Object,
    subresource: Subresource,
) {
    let mut stored = old.clone();
    match subresource {
        Subresource::Main => {
            *S::status_mut(new) = S::status_mut(&mut stored).take();
            let generation = old.meta().generation.unwrap_or(0);
            let bump = S::spec(new) != S::spec(old);
            new.meta_mut().generation = Some(if bump { generation + 1 } else { generation });
        }
        Subresource::Status => {
            let status = S::status_mut(new).take();
            *S::status_mut(&mut stored) = status;
            *new = stored;
            return;
        }
    }
    let (meta, old_meta) = (new.meta_mut(), old.meta());
    if meta.uid.as_deref().unwrap_or_default().is_empty() {
        meta.uid.clone_from(&old_meta.uid);
    }
    if old_meta.creation_timestamp.is_some() {
        meta.creation_timestamp
            .clone_from(&old_meta.creation_timestamp);
    }
    if old_meta.deletion_timestamp.is_some() {
        meta.deletion_timestamp
            .clone_from(&old_meta.deletion_timestamp);
    }
    if old_meta.deletion_grace_period_seconds.is_some()
        && meta.deletion_grace_period_seconds.is_none()
    {
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
    }
}
