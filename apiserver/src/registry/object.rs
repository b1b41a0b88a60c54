//! Objects as they cross the registry boundary: the stored JSON with its `resourceVersion`,
//! shared (an [`Object`] is one reference-counted pointer, so handing one event to many
//! watchers copies nothing) and parsed only when someone looks inside.
//!
//! Lists and watches mostly pass objects through: the stored bytes get their
//! `resourceVersion` spliced into `metadata` (a validating scan, no tree built) and go out as
//! they are. The parsed [`Value`] is built on first use of [`Object::value`] and kept.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use prepull_storage::Revision;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::errors;
use crate::http::status::ApiError;

/// One object in the stored form (the preferred version's JSON), with
/// `metadata.resourceVersion` set to its revision (absent only on dry-run creates).
#[derive(Clone)]
pub struct Object(Arc<Inner>);

struct Inner {
    /// The object as JSON.
    bytes: Bytes,
    /// `bytes` parsed, on first use.
    value: OnceLock<Value>,
}

impl Object {
    /// Wraps `value`, setting `metadata.resourceVersion` to `revision` when given.
    pub(crate) fn new(mut value: Value, revision: Option<Revision>) -> Object {
        if let Some(revision) = revision {
            set_resource_version(&mut value, revision);
        }
        let bytes = Bytes::from(serde_json::to_vec(&value).expect("JSON values serialize"));
        Object(Arc::new(Inner {
            bytes,
            value: OnceLock::from(value),
        }))
    }

    /// Reads stored bytes (which never carry a resourceVersion) as the object at `revision`,
    /// without parsing them into a tree.
    pub(crate) fn from_stored(
        stored: &[u8],
        key: &str,
        revision: Revision,
    ) -> Result<Object, ApiError> {
        let bytes = with_resource_version(stored, revision)
            .map_err(|reason| errors::corrupt_object(key, &reason))?;
        Ok(Object(Arc::new(Inner {
            bytes,
            value: OnceLock::new(),
        })))
    }

    /// The object as JSON.
    pub fn bytes(&self) -> &Bytes {
        &self.0.bytes
    }

    /// The parsed object. Present it in the requested version with
    /// [`prepull_api::versions::present_value`] on a clone.
    pub fn value(&self) -> &Value {
        self.0.value.get_or_init(|| {
            // The bytes were checked to be one JSON object when they were read.
            serde_json::from_slice(&self.0.bytes).unwrap_or_else(|err| {
                tracing::error!(%err, "an object read as valid JSON did not parse");
                Value::Object(Default::default())
            })
        })
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        meta_str(self.value(), "name")
    }

    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        meta_str(self.value(), "namespace")
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        meta_str(self.value(), "uid")
    }

    /// `metadata.resourceVersion` (empty on a dry-run create).
    pub fn resource_version(&self) -> &str {
        meta_str(self.value(), "resourceVersion")
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.0.bytes == other.0.bytes || self.value() == other.value()
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Object")
            .field(&String::from_utf8_lossy(&self.0.bytes))
            .finish()
    }
}

/// The top level of a stored object, as far as splicing in the resourceVersion needs: it must
/// be a JSON object (not an array, which serde would also read into a struct), and every
/// value is checked as strictly as parsing a [`Value`] would (serde_json skips ignored values
/// without checking their string escapes or UTF-8).
struct TopLevel<'a> {
    metadata: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel<'de>, A::Error> {
        let mut metadata = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "metadata" {
                map.next_value::<CheckedJson>()?;
                continue;
            }
            if metadata.is_some() {
                return Err(de::Error::duplicate_field("metadata"));
            }
            let raw: &'de RawValue = map.next_value()?;
            serde_json::from_str::<CheckedJson>(raw.get()).map_err(de::Error::custom)?;
            metadata = Some(raw);
        }
        Ok(TopLevel { metadata })
    }
}

/// Any JSON value, read as strictly as a [`Value`] (strings unescaped) without building it.
struct CheckedJson;

impl<'de> Deserialize<'de> for CheckedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedJson)
    }
}

impl<'de> Visitor<'de> for CheckedJson {
    type Value = CheckedJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_i64<E>(self, _: i64) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_u64<E>(self, _: u64) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_f64<E>(self, _: f64) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_str<E>(self, _: &str) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_unit<E>(self) -> Result<CheckedJson, E> {
        Ok(CheckedJson)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CheckedJson, A::Error> {
        while seq.next_element::<CheckedJson>()?.is_some() {}
        Ok(CheckedJson)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckedJson, A::Error> {
        while map.next_entry::<CheckedJson, CheckedJson>()?.is_some() {}
        Ok(CheckedJson)
    }
}

/// `stored` with `"resourceVersion":"<revision>"` as the first member of its `metadata`.
/// Fails unless `stored` is one JSON object whose `metadata` is an object.
fn with_resource_version(stored: &[u8], revision: Revision) -> Result<Bytes, String> {
    let top: TopLevel<'_> = serde_json::from_slice(stored).map_err(|e| e.to_string())?;
    let metadata = top.metadata.ok_or("no metadata")?.get();
    // `metadata` borrows from `stored`: its offset there is where the object begins.
    let open = metadata.as_ptr() as usize - stored.as_ptr() as usize;
    if stored.get(open) != Some(&b'{') {
        return Err("metadata is not an object".into());
    }
    let empty = metadata[1..].trim_start().starts_with('}');
    let member = format!(
        "\"resourceVersion\":\"{revision}\"{}",
        if empty { "" } else { "," }
    );
    let mut out = BytesMut::with_capacity(stored.len() + member.len());
    out.put_slice(&stored[..=open]);
    out.put_slice(member.as_bytes());
    out.put_slice(&stored[open + 1..]);
    Ok(out.freeze())
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
        let reparsed: Value = serde_json::from_slice(object.bytes()).unwrap();
        assert_eq!(&reparsed, object.value());
    }

    #[test]
    fn the_resource_version_is_spliced_into_any_metadata() {
        let empty =
            Object::from_stored(br#"{"kind":"X","metadata":{ },"spec":{"a":[1]}}"#, "/k", 9)
                .unwrap();
        assert_eq!(
            *empty.value(),
            json!({"kind": "X", "metadata": {"resourceVersion": "9"}, "spec": {"a": [1]}})
        );
        let nested = Object::from_stored(
            br#"{"spec":{"metadata":{}},"metadata" : {"name":"n"}}"#,
            "/k",
            3,
        )
        .unwrap();
        assert_eq!(
            *nested.value(),
            json!({"spec": {"metadata": {}}, "metadata": {"name": "n", "resourceVersion": "3"}})
        );
        for bad in [
            &b"{\"metadata\":[]}"[..],
            b"{\"spec\":{}}",
            b"{\"metadata\":{}",
            b"null",
            // Found by fuzzing: an array holding an object, a lone surrogate or bytes that are
            // not UTF-8 outside `metadata`, and inside it.
            b"[{\"metadata\":{}}]",
            br#"{"metadata":{},"spec":{"a\ud800":1}}"#,
            b"{\"metadata\":{},\"spec\":\"\xff\"}",
            br#"{"metadata":{"a":"\udc00"}}"#,
        ] {
            assert_eq!(
                Object::from_stored(bad, "/k", 1).unwrap_err().code.as_u16(),
                500
            );
        }
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
