//! One stored form, two served versions.
//!
//! `v1alpha1` and `v1beta1` have the same JSON shape except `mode` on NodeImage pull-secret
//! references, which only `v1beta1` serves. The server stores the `v1beta1`-complete form
//! (the Rust types) and:
//! - on reads, presents the object in the requested version ([`ServedVersions::presented_in`]
//!   or [`present_value`]): sets `apiVersion`/`kind`, drops what that version does not serve;
//! - on writes through a version that lacks a field, carries the field over from the stored
//!   object ([`ServedVersions::keep_unserved_fields`] or [`keep_unserved_value`]) so that a
//!   v1alpha1 client's read-modify-write loses nothing.

use serde_json::Value;

use crate::group::{ApiVersion, Kind, KruiseResource};
use crate::image_list_pull_job::ImageListPullJob;
use crate::image_pull_job::ImagePullJob;
use crate::node_image::NodeImage;

/// Per-kind differences between the served versions.
pub trait ServedVersions: KruiseResource {
    /// Removes the fields `version` does not serve.
    fn drop_unserved_fields(&mut self, _version: ApiVersion) {}

    /// On an update received through `version`, copies from `stored` the fields that version
    /// does not serve (the client could not have seen them, so their absence means nothing).
    fn keep_unserved_fields(&mut self, _stored: &Self, _version: ApiVersion) {}

    /// A copy of the object as served in `version`: `apiVersion` and `kind` set, unserved
    /// fields dropped.
    fn presented_in(&self, version: ApiVersion) -> Self {
        let mut presented = self.clone();
        presented.set_type_meta(version);
        presented.drop_unserved_fields(version);
        presented
    }
}

impl ServedVersions for ImagePullJob {}

impl ServedVersions for ImageListPullJob {}

impl ServedVersions for NodeImage {
    fn drop_unserved_fields(&mut self, version: ApiVersion) {
        if version == ApiVersion::V1alpha1 {
            for secret in self
                .spec
                .images
                .values_mut()
                .flat_map(|i| i.pull_secrets.iter_mut())
            {
                secret.mode.clear();
            }
        }
    }

    fn keep_unserved_fields(&mut self, stored: &Self, version: ApiVersion) {
        if version != ApiVersion::V1alpha1 {
            return;
        }
        for (name, image) in &mut self.spec.images {
            let Some(stored_image) = stored.spec.images.get(name) else {
                continue;
            };
            for secret in image.pull_secrets.iter_mut().filter(|s| s.mode.is_empty()) {
                if let Some(old) = stored_image
                    .pull_secrets
                    .iter()
                    .find(|old| old.namespace == secret.namespace && old.name == secret.name)
                {
                    secret.mode.clone_from(&old.mode);
                }
            }
        }
    }
}

/// [`ServedVersions::presented_in`] for an object kept as JSON.
pub fn present_value(kind: Kind, object: &mut Value, version: ApiVersion) {
    if let Value::Object(map) = object {
        map.insert("apiVersion".into(), version.api_version().into());
        map.insert("kind".into(), kind.name().into());
    }
    if kind == Kind::NodeImage && version == ApiVersion::V1alpha1 {
        for secret in node_image_secrets_mut(object) {
            if let Value::Object(secret) = secret {
                secret.remove("mode");
            }
        }
    }
}

/// [`ServedVersions::keep_unserved_fields`] for objects kept as JSON.
pub fn keep_unserved_value(kind: Kind, new: &mut Value, stored: &Value, version: ApiVersion) {
    if kind != Kind::NodeImage || version != ApiVersion::V1alpha1 {
        return;
    }
    let Some(Value::Object(images)) = new.pointer_mut("/spec/images") else {
        return;
    };
    for (name, image) in images {
        let pointer = format!("/spec/images/{}/pullSecrets", escape_pointer(name));
        let Some(Value::Array(stored_secrets)) = stored.pointer(&pointer) else {
            continue;
        };
        let Some(Value::Array(secrets)) = image.get_mut("pullSecrets") else {
            continue;
        };
        for secret in secrets.iter_mut().filter_map(Value::as_object_mut) {
            if secret
                .get("mode")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty())
            {
                continue;
            }
            let same = |old: &&Value| {
                old.get("namespace") == secret.get("namespace")
                    && old.get("name") == secret.get("name")
            };
            if let Some(mode) = stored_secrets
                .iter()
                .find(same)
                .and_then(|old| old.get("mode"))
            {
                secret.insert("mode".into(), mode.clone());
            }
        }
    }
}

fn node_image_secrets_mut(object: &mut Value) -> impl Iterator<Item = &mut Value> {
    object
        .pointer_mut("/spec/images")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|images| images.values_mut())
        .filter_map(|image| image.get_mut("pullSecrets").and_then(Value::as_array_mut))
        .flatten()
}

/// Escapes a map key for use in a JSON pointer (RFC 6901).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
