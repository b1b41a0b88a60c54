//! Objects as they cross the registry boundary: the stored JSON with its `resourceVersion`,
//! parsed once and serialized once, and shared (an [`Object`] is two reference-counted
//! pointers, so handing one event to many watchers copies nothing).

use std::sync::Arc;

use bytes::Bytes;
use prepull_storage::Revision;
use serde_json::Value;

use super::errors;
use crate::http::status::ApiError;

/// One object in the stored form (the preferred version's JSON), with
/// `metadata.resourceVersion` set to its revision (absent only on dry-run creates).
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// The parsed object. Present it in the requested version with
    /// [`prepull_api::versions::present_value`] on a clone.
    pub value: Arc<Value>,
    /// `value` serialized as JSON.
    pub bytes: Bytes,
}

impl Object {
    /// Wraps `value`, setting `metadata.resourceVersion` to `revision` when given.
    pub(crate) fn new(mut value: Value, revision: Option<Revision>) -> Object {
        if let Some(revision) = revision {
            set_resource_version(&mut value, revision);
        }
        let bytes = Bytes::from(serde_json::to_vec(&value).expect("JSON values serialize"));
        Object {
            value: Arc::new(value),
            bytes,
        }
    }

    /// Reads stored bytes (which never carry a resourceVersion) as the object at `revision`.
    pub(crate) fn from_stored(
        stored: &[u8],
        key: &str,
        revision: Revision,
    ) -> Result<Object, ApiError> {
        let value: Value = serde_json::from_slice(stored)
            .map_err(|e| errors::corrupt_object(key, &e.to_string()))?;
        if !value.is_object() {
            return Err(errors::corrupt_object(key, "not a JSON object"));
        }
        Ok(Object::new(value, Some(revision)))
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        meta_str(&self.value, "name")
    }

    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        meta_str(&self.value, "namespace")
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        meta_str(&self.value, "uid")
    }

    /// `metadata.resourceVersion` (empty on a dry-run create).
    pub fn resource_version(&self) -> &str {
        meta_str(&self.value, "resourceVersion")
    }
}

/// A page of a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectList {
    /// The matching objects, in key order (namespace, then name).
    pub items: Vec<Object>,
    /// The list's `metadata.resourceVersion`: the revision it was read at.
    pub resource_version: String,
    /// `metadata.continue`, when more items remain.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`, when known (never with selectors, as in Kubernetes).
    pub remaining_item_count: Option<u64>,
}

/// The outcome of create, update or patch.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The object as stored (or as it would have been, for a dry run).
    pub object: Object,
    /// Whether the object was created (201) rather than updated (200).
    pub created: bool,
    /// `Warning` headers to send (unknown or duplicate fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

/// The outcome of a delete.
#[derive(Clone, Debug, PartialEq)]
pub struct Deleted {
    /// The object: its last state (with the revision of the delete) when `finished`, or the
    /// object marked for deletion when finalizers keep it.
    pub object: Object,
    /// `false` when finalizers keep the object (it now has a deletionTimestamp).
    pub finished: bool,
}

fn meta_str<'a>(value: &'a Value, field: &str) -> &'a str {
    value
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Sets `metadata.resourceVersion`.
pub(crate) fn set_resource_version(value: &mut Value, revision: Revision) {
    if let Some(Value::Object(meta)) = value.get_mut("metadata") {
        meta.insert("resourceVersion".into(), revision.to_string().into());
    }
}

/// Removes `metadata.resourceVersion` (it is never stored: the revision is).
pub(crate) fn clear_resource_version(value: &mut Value) {
    if let Some(Value::Object(meta)) = value.get_mut("metadata") {
        meta.remove("resourceVersion");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_object_gets_its_revision_as_resource_version() {
        let object =
            Object::from_stored(br#"{"metadata":{"name":"a","namespace":"ns"}}"#, "/k", 7).unwrap();
        assert_eq!(object.resource_version(), "7");
        assert_eq!((object.name(), object.namespace()), ("a", "ns"));
        let reparsed: Value = serde_json::from_slice(&object.bytes).unwrap();
        assert_eq!(reparsed, *object.value);
    }

    #[test]
    fn stored_bytes_that_are_not_an_object_are_an_internal_error() {
        let err = Object::from_stored(b"[1]", "/k", 1).unwrap_err();
        assert_eq!(err.code.as_u16(), 500);
        let mut value = json!({"metadata": {"resourceVersion": "3"}});
        clear_resource_version(&mut value);
        assert_eq!(value, json!({"metadata": {}}));
    }
}
