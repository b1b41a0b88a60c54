//! Sets of field paths, the `fieldsV1` of managedFields entries.
//!
//! A path is a list of elements as structured-merge-diff writes them: `f:spec` (a field or map
//! key), `k:{"tag":"v1"}` (the element of a `map` list with these key values, keys sorted),
//! `v:"x"` (the element of a `set` list with this value). Atomic lists (the default when the
//! schema declares no list type) end a path. In `fieldsV1` JSON a node that is itself in the
//! set and also has children in it carries a `"."` member: `{"f:spec":{".":{},"f:image":{}}}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::params::Subresource;
use super::schema_node::{ListType, SchemaNode};

/// Metadata the server owns; never attributed to a manager (structured-merge-diff's strip set,
/// plus the deletion fields only the server sets).
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "generation",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// One field path: its elements, outermost first.
pub(crate) type Path = Vec<String>;

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    /// Every field present in `object` that a write through `scope` can set: for the main
    /// resource everything but `status`, for `/status` only `status`; never `apiVersion`,
    /// `kind` or server-owned metadata.
    /// Lists follow `schema` (the object's root schema).
    pub(crate) fn of_object(object: &Value, scope: Subresource, schema: SchemaNode) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(top) = object.as_object() else {
            return set;
        };
        for (key, value) in top {
            let in_scope = match scope {
                Subresource::Main => key != "status",
                Subresource::Status => key == "status",
            };
            if !in_scope || key == "apiVersion" || key == "kind" {
                continue;
            }
            if key == "metadata" {
                for (field, child) in value.as_object().into_iter().flatten() {
                    if !SERVER_METADATA.contains(&field.as_str()) {
                        let node = schema.field(key).field(field);
                        set.insert_tree(vec![element(key), element(field)], child, node);
                    }
                }
            } else {
                set.insert_tree(vec![element(key)], value, schema.field(key));
            }
        }
        set
    }

    fn insert_tree(&mut self, path: Path, value: &Value, schema: SchemaNode) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let mut child_path = path.clone();
                    child_path.push(element(key));
                    self.insert_tree(child_path, child, schema.field(key));
                }
            }
            Value::Array(items) => match schema.list_type() {
                ListType::Atomic => {}
                ListType::Set => {
                    for item in items {
                        let mut child_path = path.clone();
                        child_path.push(format!("v:{item}"));
                        self.0.insert(child_path);
                    }
                }
                ListType::Map(keys) => {
                    let elements: Option<Vec<String>> =
                        items.iter().map(|item| key_element(item, &keys)).collect();
                    if let Some(elements) = elements {
                        for (item, key) in items.iter().zip(elements) {
                            let mut child_path = path.clone();
                            child_path.push(key);
                            self.insert_tree(child_path, item, schema.items());
                        }
                    }
                }
            },
            _ => {}
        }
        self.0.insert(path);
    }

    /// The fields an applied configuration sets, as structured-merge-diff records them for an
    /// `Apply` entry: like [`FieldSet::of_object`], but an object or list that has members in
    /// the set is not itself one (list elements are).
    pub(crate) fn applied(object: &Value, scope: Subresource, schema: SchemaNode) -> FieldSet {
        let all = FieldSet::of_object(object, scope, schema);
        let leaves = all.0.iter().filter(|path| {
            let is_field = path.last().is_some_and(|e| e.starts_with("f:"));
            let has_children = all
                .0
                .range((*path).clone()..)
                .nth(1)
                .is_some_and(|next| next.starts_with(path));
            !(is_field && has_children)
        });
        FieldSet(leaves.cloned().collect())
    }

    /// The paths, outermost first.
    pub(crate) fn paths(&self) -> impl DoubleEndedIterator<Item = &Path> {
        self.0.iter()
    }

    /// Whether `path` or anything under it is in the set.
    pub(crate) fn covers(&self, path: &Path) -> bool {
        self.0
            .range(path.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(path))
    }

    /// Whether `path` is in the set with nothing under it: its whole value is owned.
    pub(crate) fn has_leaf(&self, path: &Path) -> bool {
        let mut from = self.0.range(path.clone()..);
        from.next().is_some_and(|p| p == path)
            && !from.next().is_some_and(|next| next.starts_with(path))
    }

    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// The paths of `new_fields` (the fields of `new`) that a write from `old` to `new` set:
    /// leaves whose value differs, and anything `old` lacked.
    pub(crate) fn changed(new_fields: &FieldSet, new: &Value, old: Option<&Value>) -> FieldSet {
        let changed = new_fields.0.iter().filter(|path| {
            let Some(before) = old.and_then(|old| lookup(old, path)) else {
                return true;
            };
            match lookup(new, path) {
                Some(Value::Object(_)) => !before.is_object(),
                after => after != Some(before),
            }
        });
        FieldSet(changed.cloned().collect())
    }

    /// Reads a `fieldsV1` document.
    pub(crate) fn from_fields_v1(fields: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        read_node(&mut set, &Vec::new(), fields);
        set
    }

    /// Writes the set as a `fieldsV1` document.
    pub(crate) fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<String, Node>,
        }
        fn render(node: &Node) -> Value {
            let mut map = Map::new();
            if node.member && !node.children.is_empty() {
                map.insert(".".into(), Value::Object(Map::new()));
            }
            for (key, child) in &node.children {
                map.insert(key.clone(), render(child));
            }
            Value::Object(map)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let node = path.iter().fold(&mut root, |node, element| {
                node.children.entry(element.clone()).or_default()
            });
            node.member = true;
        }
        render(&root)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }
}

fn element(key: &str) -> String {
    format!("f:{key}")
}

/// The `k:` element of a `map`-list item: its key fields, sorted by name, as compact JSON.
/// `None` when the item is not an object or lacks a key.
pub(crate) fn key_element(item: &Value, keys: &[String]) -> Option<String> {
    let mut fields: Vec<(&String, &Value)> = keys
        .iter()
        .map(|key| item.get(key).map(|value| (key, value)))
        .collect::<Option<_>>()?;
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let inner: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", Value::String((*key).clone())))
        .collect();
    Some(format!("k:{{{}}}", inner.join(",")))
}

/// A path as kube-apiserver prints it in conflicts: `.spec.images.x.tags[tag="v1"].version`.
pub(crate) fn display_path(path: &Path) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(keys) = element.strip_prefix("k:") {
            let parsed: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let shown: Vec<String> = parsed.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", shown.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

/// The list item an element (`k:` or `v:`) names, and its index.
pub(crate) fn find_item<'a>(items: &'a [Value], element: &str) -> Option<(usize, &'a Value)> {
    if let Some(keys) = element.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
        items
            .iter()
            .enumerate()
            .find(|(_, item)| keys.iter().all(|(k, v)| item.get(k) == Some(v)))
    } else if let Some(value) = element.strip_prefix("v:") {
        let value: Value = serde_json::from_str(value).ok()?;
        items.iter().enumerate().find(|(_, item)| **item == value)
    } else {
        None
    }
}

fn read_node(set: &mut FieldSet, path: &Path, node: &Value) {
    for (key, child) in node.as_object().into_iter().flatten() {
        if key == "." {
            set.0.insert(path.clone());
            continue;
        }
        let mut child_path = path.clone();
        child_path.push(key.clone());
        if child.as_object().is_none_or(Map::is_empty) {
            set.0.insert(child_path);
        } else {
            read_node(set, &child_path, child);
        }
    }
}

/// The value at `path` in `object`; `None` when absent (or named by index, `i:`).
pub(crate) fn lookup<'a>(object: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter()
        .try_fold(object, |value, element| match element.strip_prefix("f:") {
            Some(field) => value.get(field),
            None => find_item(value.as_array()?, element).map(|(_, item)| item),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::{ApiVersion, Kind};
    use serde_json::json;

    fn schema() -> SchemaNode {
        SchemaNode::root(Kind::ImagePullJob, ApiVersion::V1alpha1)
    }

    #[test]
    fn map_lists_are_keyed_by_their_keys_and_sets_by_value() {
        let node_image = json!({
            "metadata": {"name": "n", "finalizers": ["x"]},
            "spec": {"images": {"nginx": {"tags": [{"tag": "1.25", "version": 2}]}}}
        });
        let set = FieldSet::of_object(
            &node_image,
            Subresource::Main,
            SchemaNode::root(Kind::NodeImage, ApiVersion::V1alpha1),
        );
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {".": {}, "v:\"x\"": {}}},
                "f:spec": {".": {}, "f:images": {".": {}, "f:nginx": {".": {}, "f:tags": {
                    ".": {},
                    "k:{\"tag\":\"1.25\"}": {".": {}, "f:tag": {}, "f:version": {}}
                }}}}
            })
        );
        let version: Path = [
            "f:spec",
            "f:images",
            "f:nginx",
            "f:tags",
            "k:{\"tag\":\"1.25\"}",
            "f:version",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(lookup(&node_image, &version), Some(&json!(2)));
        assert_eq!(
            display_path(&version),
            ".spec.images.nginx.tags[tag=\"1.25\"].version"
        );
        assert!(set.covers(&version[..3].to_vec()));
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    fn job() -> Value {
        json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "j", "uid": "u", "labels": {"app": "web"}},
            "spec": {"image": "nginx", "selector": {"names": ["a", "b"]}},
            "status": {"desired": 0}
        })
    }

    #[test]
    fn the_main_resource_owns_everything_but_status_and_server_metadata() {
        let set = FieldSet::of_object(&job(), Subresource::Main, schema());
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {".": {}, "f:image": {}, "f:selector": {".": {}, "f:names": {}}}
            })
        );
        let status = FieldSet::of_object(&job(), Subresource::Status, schema());
        assert_eq!(
            status.to_fields_v1(),
            json!({"f:status": {".": {}, "f:desired": {}}})
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let set = FieldSet::of_object(&job(), Subresource::Main, schema());
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn only_new_or_different_values_count_as_changed() {
        let old = job();
        let mut new = job();
        new["spec"]["image"] = json!("redis");
        new["metadata"]["labels"]["tier"] = json!("db");
        let fields = FieldSet::of_object(&new, Subresource::Main, schema());
        let changed = FieldSet::changed(&fields, &new, Some(&old));
        assert_eq!(
            changed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:tier": {}}}, "f:spec": {"f:image": {}}})
        );
        assert_eq!(FieldSet::changed(&fields, &new, None), fields);
    }
}
