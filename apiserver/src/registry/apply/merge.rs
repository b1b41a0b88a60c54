//! Merging an applied configuration into the live object, as structured-merge-diff does:
//! objects merge field by field, `map` lists element by element (matched by their keys),
//! `set` lists as a union, and everything else (scalars, atomic lists) is replaced.

use serde_json::Value;

use crate::registry::field_set::{find_item, key_element};
use crate::registry::schema_node::{ListType, SchemaNode};

/// Merges `config` into `live`. `null` members of `config` leave `live` alone.
pub(crate) fn merge(live: &mut Value, config: &Value, schema: SchemaNode) {
    match (&mut *live, config) {
        (Value::Object(target), Value::Object(applied)) => {
            for (key, value) in applied {
                if value.is_null() {
                    continue;
                }
                match target.get_mut(key) {
                    Some(existing) => merge(existing, value, schema.field(key)),
                    None => {
                        let mut fresh = empty_like(value);
                        merge(&mut fresh, value, schema.field(key));
                        target.insert(key.clone(), fresh);
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(applied)) => match schema.list_type() {
            ListType::Atomic => *live = config.clone(),
            ListType::Set => {
                for item in applied {
                    if !target.contains(item) {
                        target.push(item.clone());
                    }
                }
            }
            ListType::Map(keys) => {
                let elements: Option<Vec<String>> = applied
                    .iter()
                    .map(|item| key_element(item, &keys))
                    .collect();
                let Some(elements) = elements else {
                    *live = config.clone();
                    return;
                };
                for (item, element) in applied.iter().zip(elements) {
                    match find_item(target, &element).map(|(at, _)| at) {
                        Some(at) => merge(&mut target[at], item, schema.items()),
                        None => target.push(item.clone()),
                    }
                }
            }
        },
        (slot, value) => *slot = value.clone(),
    }
}

fn empty_like(value: &Value) -> Value {
    match value {
        Value::Object(_) => Value::Object(Default::default()),
        Value::Array(_) => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

/// Removes the field, map-list element or set value `path` names from `object`, if present.
pub(crate) fn remove_path(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for element in parents {
        let next = match element.strip_prefix("f:") {
            Some(field) => node.get_mut(field),
            None => match node {
                Value::Array(items) => match find_item(items, element) {
                    Some((at, _)) => items.get_mut(at),
                    None => None,
                },
                _ => None,
            },
        };
        match next {
            Some(next) => node = next,
            None => return,
        }
    }
    match (last.strip_prefix("f:"), node) {
        (Some(field), Value::Object(map)) => {
            map.remove(field);
        }
        (None, Value::Array(items)) => {
            if let Some((at, _)) = find_item(items, last) {
                items.remove(at);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::{ApiVersion, Kind};
    use serde_json::json;

    fn schema() -> SchemaNode {
        SchemaNode::root(Kind::NodeImage, ApiVersion::V1alpha1)
    }

    #[test]
    fn map_lists_merge_by_key_and_atomic_lists_are_replaced() {
        let mut live = json!({"metadata": {"finalizers": ["a"]}, "spec": {"images": {"x": {
            "tags": [{"tag": "1", "version": 1}, {"tag": "2"}],
            "pullSecrets": [{"name": "s", "namespace": "n"}]
        }}}});
        let config = json!({"metadata": {"finalizers": ["b"]}, "spec": {"images": {"x": {
            "tags": [{"tag": "1", "version": 7}, {"tag": "3"}]
        }}}});
        merge(&mut live, &config, schema());
        assert_eq!(
            live["spec"]["images"]["x"]["tags"],
            json!([{"tag": "1", "version": 7}, {"tag": "2"}, {"tag": "3"}])
        );
        assert_eq!(live["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            live["spec"]["images"]["x"]["pullSecrets"],
            json!([{"name": "s", "namespace": "n"}])
        );
    }

    #[test]
    fn remove_path_removes_fields_and_keyed_elements() {
        let mut live = json!({"spec": {"images": {"x": {"tags": [{"tag": "1"}, {"tag": "2"}]}}}});
        let element: Vec<String> = ["f:spec", "f:images", "f:x", "f:tags", "k:{\"tag\":\"1\"}"]
            .map(String::from)
            .to_vec();
        remove_path(&mut live, &element);
        assert_eq!(live["spec"]["images"]["x"]["tags"], json!([{"tag": "2"}]));
        remove_path(&mut live, &element[..3]);
        assert_eq!(live["spec"]["images"], json!({}));
    }
}
