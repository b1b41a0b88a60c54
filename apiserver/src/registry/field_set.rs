//! Sets of field paths, the `fieldsV1` of managedFields entries.
//!
//! A path is a list of elements like `f:spec`, `f:image`. Lists are treated as atomic values
//! (a path ends at a list), which is what structured-merge-diff does for lists without merge
//! keys. In `fieldsV1` JSON a node that is itself in the set and also has children in it
//! carries a `"."` member: `{"f:spec":{".":{},"f:image":{}}}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::params::Subresource;

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

type Path = Vec<String>;

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    /// Every field present in `object` that a write through `scope` can set: for the main
    /// resource everything but `status`, for `/status` only `status`; never `apiVersion`,
    /// `kind` or server-owned metadata.
    pub(crate) fn of_object(object: &Value, scope: Subresource) -> FieldSet {
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
                        set.insert_tree(vec![element(key), element(field)], child);
                    }
                }
            } else {
                set.insert_tree(vec![element(key)], value);
            }
        }
        set
    }

    fn insert_tree(&mut self, path: Path, value: &Value) {
        if let Value::Object(map) = value {
            for (key, child) in map {
                let mut child_path = path.clone();
                child_path.push(element(key));
                self.insert_tree(child_path, child);
            }
        }
        self.0.insert(path);
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

/// The value at `path` in `object`; `None` when absent or when the path has elements other
/// than fields (`k:`, `v:`, `i:` from other writers).
fn lookup<'a>(object: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, element| {
        value.get(element.strip_prefix("f:")?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let set = FieldSet::of_object(&job(), Subresource::Main);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {".": {}, "f:image": {}, "f:selector": {".": {}, "f:names": {}}}
            })
        );
        let status = FieldSet::of_object(&job(), Subresource::Status);
        assert_eq!(
            status.to_fields_v1(),
            json!({"f:status": {".": {}, "f:desired": {}}})
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let set = FieldSet::of_object(&job(), Subresource::Main);
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn only_new_or_different_values_count_as_changed() {
        let old = job();
        let mut new = job();
        new["spec"]["image"] = json!("redis");
        new["metadata"]["labels"]["tier"] = json!("db");
        let fields = FieldSet::of_object(&new, Subresource::Main);
        let changed = FieldSet::changed(&fields, &new, Some(&old));
        assert_eq!(
            changed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:tier": {}}}, "f:spec": {"f:image": {}}})
        );
        assert_eq!(FieldSet::changed(&fields, &new, None), fields);
    }
}
