//! What the OpenAPI schema says about one field for merging: whether a list is atomic, a set
//! or a map keyed by some fields (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`), and
//! how strategic merge patch treats it (`x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`).
//!
//! Strategic merge patch, server-side apply and managedFields all walk objects with a
//! [`SchemaNode`], so the list semantics come from the one schema `prepull-api` publishes in
//! OpenAPI. A field the schema does not describe gets an empty node: lists under it are atomic.

use std::sync::LazyLock;

use prepull_api::schema::{RefStyle, components, definition_name, resolve};
use prepull_api::{ApiVersion, Kind};
use serde_json::{Map, Value};

static COMPONENTS: LazyLock<[Map<String, Value>; 2]> =
    LazyLock::new(|| ApiVersion::ALL.map(|v| components(v, RefStyle::OpenApiV3)));

fn components_of(version: ApiVersion) -> &'static Map<String, Value> {
    let index = ApiVersion::ALL
        .iter()
        .position(|v| *v == version)
        .expect("every version has components");
    &COMPONENTS[index]
}

/// How a list's elements are identified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListType {
    /// The list is one value: replaced whole, owned whole.
    Atomic,
    /// Scalar elements identified by their value.
    Set,
    /// Object elements identified by the values of these fields.
    Map(Vec<String>),
}

/// A position in a kind's schema (possibly unknown).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SchemaNode {
    components: &'static Map<String, Value>,
    schema: Option<&'static Value>,
}

impl SchemaNode {
    /// The schema of a whole `kind` object in `version`.
    pub(crate) fn root(kind: Kind, version: ApiVersion) -> SchemaNode {
        let components = components_of(version);
        SchemaNode {
            components,
            schema: components.get(&definition_name(kind, version)),
        }
    }

    /// A position the schema does not describe (every list atomic, nothing merges).
    pub(crate) fn unknown() -> SchemaNode {
        SchemaNode {
            components: components_of(ApiVersion::PREFERRED),
            schema: None,
        }
    }

    fn at(&self, schema: Option<&'static Value>) -> SchemaNode {
        SchemaNode {
            components: self.components,
            schema: schema.and_then(|s| resolve(self.components, s)),
        }
    }

    fn resolved(&self) -> Option<&'static Value> {
        self.schema.and_then(|s| resolve(self.components, s))
    }

    /// The schema of member `name` of an object (a property, or a map's values).
    pub(crate) fn field(&self, name: &str) -> SchemaNode {
        let schema = self.resolved();
        let property = schema
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(name));
        let values = schema
            .and_then(|s| s.get("additionalProperties"))
            .filter(|v| v.is_object());
        self.at(property.or(values))
    }

    /// The schema of a list's elements.
    pub(crate) fn items(&self) -> SchemaNode {
        self.at(self.resolved().and_then(|s| s.get("items")))
    }

    fn extension(&self, name: &str) -> Option<&'static Value> {
        self.schema
            .and_then(|s| s.get(name))
            .or_else(|| self.resolved().and_then(|s| s.get(name)))
    }

    /// The list type server-side apply and managedFields use (atomic unless declared).
    pub(crate) fn list_type(&self) -> ListType {
        match self
            .extension("x-kubernetes-list-type")
            .and_then(Value::as_str)
        {
            Some("set") => ListType::Set,
            Some("map") => {
                let keys = self
                    .extension("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                if keys.is_empty() {
                    ListType::Atomic
                } else {
                    ListType::Map(keys)
                }
            }
            _ => ListType::Atomic,
        }
    }

    /// Whether strategic merge patch merges this list (`x-kubernetes-patch-strategy`
    /// contains `merge`) rather than replacing it.
    pub(crate) fn patch_merges(&self) -> bool {
        self.patch_strategy().any(|s| s == "merge")
    }

    fn patch_strategy(&self) -> impl Iterator<Item = &'static str> {
        self.extension("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
    }

    /// The field identifying elements of this list in strategic merge patch.
    pub(crate) fn patch_merge_key(&self) -> Option<&'static str> {
        self.extension("x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_image_tags_are_a_map_keyed_by_tag_and_merged_by_tag() {
        let root = SchemaNode::root(Kind::NodeImage, ApiVersion::V1alpha1);
        let tags = root
            .field("spec")
            .field("images")
            .field("any-image")
            .field("tags");
        assert_eq!(tags.list_type(), ListType::Map(vec!["tag".into()]));
        assert!(tags.patch_merges());
        assert_eq!(tags.patch_merge_key(), Some("tag"));
        let secrets = root
            .field("spec")
            .field("images")
            .field("x")
            .field("pullSecrets");
        assert_eq!(
            secrets.list_type(),
            ListType::Map(vec!["namespace".into(), "name".into()])
        );
        assert!(!secrets.patch_merges());
    }

    #[test]
    fn metadata_lists_come_from_object_meta_and_unknown_lists_are_atomic() {
        let root = SchemaNode::root(Kind::ImagePullJob, ApiVersion::V1alpha1);
        let owners = root.field("metadata").field("ownerReferences");
        assert_eq!(owners.list_type(), ListType::Map(vec!["uid".into()]));
        assert_eq!(owners.patch_merge_key(), Some("uid"));
        let finalizers = root.field("metadata").field("finalizers");
        assert_eq!(finalizers.list_type(), ListType::Set);
        assert!(finalizers.patch_merges());
        let failed = root.field("status").field("failedNodes");
        assert_eq!(failed.list_type(), ListType::Set);
        let unknown = root.field("spec").field("noSuchField").field("list");
        assert_eq!(unknown.list_type(), ListType::Atomic);
    }
}
