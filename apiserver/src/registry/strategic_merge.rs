//! Strategic merge patch (`application/strategic-merge-patch+json`), the patch kubectl sends by
//! default, with the semantics of k8s.io/apimachinery's `strategicpatch`:
//!
//! - objects merge key by key; `null` removes a key;
//! - lists whose schema says `x-kubernetes-patch-strategy: merge` merge: object elements by
//!   their `x-kubernetes-patch-merge-key` (an element matching an existing one merges into
//!   it, others are appended), scalar elements as a set; every other list is replaced;
//! - directives: `$patch: replace | delete | merge` on an object (in a list, `delete` removes
//!   the element with that key and a `{"$patch": "replace"}` element replaces the whole list),
//!   `$setElementOrder/<list>` (the order of the result), `$deleteFromPrimitiveList/<list>`
//!   (scalars to remove) and `$retainKeys` (keys to keep).
//!
//! Patches that are not well formed are [`StrategicMergeError::Malformed`] (400); patches that
//! do not fit the object (a merge-list element without its merge key, a list of lists) are
//! [`StrategicMergeError::NotApplicable`] (422).

use serde_json::{Map, Value};

use super::schema_node::SchemaNode;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StrategicMergeError {
    /// The patch document is not a valid strategic merge patch.
    #[error("{0}")]
    Malformed(String),
    /// The patch cannot be applied to this object.
    #[error("{0}")]
    NotApplicable(String),
}

use StrategicMergeError::{Malformed, NotApplicable};

/// Applies `patch` to `original` (an object described by `schema`) and returns the result.
pub(crate) fn apply(
    original: &Value,
    patch: &Value,
    schema: SchemaNode,
) -> Result<Value, StrategicMergeError> {
    let Value::Object(patch) = patch else {
        return Err(Malformed(
            "invalid JSON document: a strategic merge patch must be a JSON object".into(),
        ));
    };
    let mut result = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if directive(patch)? == Some("delete") {
        return Ok(Value::Object(Map::new()));
    }
    merge_map(&mut result, patch, schema)?;
    Ok(Value::Object(result))
}

/// The `$patch` directive of an object, if any.
fn directive(patch: &Map<String, Value>) -> Result<Option<&str>, StrategicMergeError> {
    match patch.get(PATCH) {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "replace" | "delete" | "merge") => {
            Ok(Some(s.as_str()))
        }
        Some(other) => Err(Malformed(format!("Unknown patch type: {other}"))),
    }
}

fn merge_map(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    schema: SchemaNode,
) -> Result<(), StrategicMergeError> {
    if directive(patch)? == Some("replace") {
        let mut replaced = Map::new();
        merge_map(&mut replaced, &without_directive(patch), schema)?;
        *original = replaced;
        return Ok(());
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keys = retain_keys(retain)?;
        for key in patch.keys().filter(|k| !k.starts_with('$')) {
            if !keys.contains(&key.as_str()) {
                return Err(NotApplicable(format!(
                    "The patch content doesn't match retainKeys: {key} is not in $retainKeys"
                )));
            }
        }
        original.retain(|key, _| keys.contains(&key.as_str()));
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(doomed) = value else {
                return Err(Malformed(format!(
                    "invalid patch: {key} must be a list of values to delete"
                )));
            };
            if let Some(Value::Array(items)) = original.get_mut(list) {
                items.retain(|item| !doomed.contains(item));
            }
        } else if let Some(list) = key.strip_prefix(SET_ELEMENT_ORDER) {
            let Value::Array(order) = value else {
                return Err(Malformed(format!(
                    "invalid patch: {key} must be a list of elements"
                )));
            };
            orders.push((list, order));
        } else if key == PATCH || key == RETAIN_KEYS {
            continue;
        } else {
            merge_member(original, key, value, schema.field(key))?;
        }
    }
    for (list, order) in orders {
        if let Some(Value::Array(items)) = original.get_mut(list) {
            reorder(items, order, schema.field(list).patch_merge_key());
        }
    }
    Ok(())
}

fn merge_member(
    original: &mut Map<String, Value>,
    key: &str,
    patch: &Value,
    schema: SchemaNode,
) -> Result<(), StrategicMergeError> {
    match patch {
        Value::Null => {
            original.remove(key);
        }
        Value::Object(patch) => {
            if directive(patch)? == Some("delete") {
                original.remove(key);
                return Ok(());
            }
            let slot = original
                .entry(key.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(target) = slot else {
                unreachable!("just made an object")
            };
            merge_map(target, patch, schema)?;
        }
        Value::Array(patch) => {
            let slot = original
                .entry(key.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(target) = slot else {
                unreachable!("just made a list")
            };
            merge_list(target, patch, key, schema)?;
        }
        scalar => {
            original.insert(key.to_owned(), scalar.clone());
        }
    }
    Ok(())
}

fn merge_list(
    original: &mut Vec<Value>,
    patch: &[Value],
    field: &str,
    schema: SchemaNode,
) -> Result<(), StrategicMergeError> {
    if patch.iter().any(Value::is_array) {
        return Err(NotApplicable(format!(
            "lists of lists are not supported: {field}"
        )));
    }
    if !schema.patch_merges() {
        *original = patch.iter().map(strip).collect::<Result<_, _>>()?;
        return Ok(());
    }
    let replace = patch.iter().any(|item| {
        item.as_object()
            .is_some_and(|m| m.len() == 1 && m.get(PATCH) == Some(&"replace".into()))
    });
    if replace {
        original.clear();
    }
    for item in patch {
        let Value::Object(element) = item else {
            if !original.contains(item) {
                original.push(item.clone());
            }
            continue;
        };
        if replace && element.len() == 1 && element.contains_key(PATCH) {
            continue;
        }
        let Some(merge_key) = schema.patch_merge_key() else {
            return Err(NotApplicable(format!(
                "the list {field} merges but declares no merge key for its elements"
            )));
        };
        let Some(key_value) = element.get(merge_key) else {
            return Err(NotApplicable(format!(
                "map: {} does not contain declared merge key: {merge_key}",
                Value::Object(element.clone())
            )));
        };
        let same = |candidate: &Value| candidate.get(merge_key) == Some(key_value);
        match directive(element)? {
            Some("delete") => original.retain(|candidate| !same(candidate)),
            _ => match original.iter_mut().find(|candidate| same(candidate)) {
                Some(Value::Object(existing)) => merge_map(existing, element, schema.items())?,
                Some(existing) => *existing = strip_map(element, schema.items())?,
                None => original.push(strip_map(element, schema.items())?),
            },
        }
    }
    Ok(())
}

/// A patch value with its directives processed against nothing.
fn strip(value: &Value) -> Result<Value, StrategicMergeError> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            merge_map(&mut out, map, SchemaNode::unknown())?;
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn strip_map(map: &Map<String, Value>, schema: SchemaNode) -> Result<Value, StrategicMergeError> {
    let mut out = Map::new();
    merge_map(&mut out, &without_directive(map), schema)?;
    Ok(Value::Object(out))
}

fn without_directive(map: &Map<String, Value>) -> Map<String, Value> {
    let mut map = map.clone();
    map.remove(PATCH);
    map
}

fn retain_keys(value: &Value) -> Result<Vec<&str>, StrategicMergeError> {
    let malformed = || Malformed("invalid patch: $retainKeys must be a list of strings".into());
    value
        .as_array()
        .ok_or_else(malformed)?
        .iter()
        .map(|k| k.as_str().ok_or_else(malformed))
        .collect()
}

/// Puts the elements named in `order` first, in that order; the others follow as they were.
fn reorder(items: &mut Vec<Value>, order: &[Value], merge_key: Option<&str>) {
    let identity = |item: &Value| -> Value {
        match merge_key {
            Some(key) => item.get(key).cloned().unwrap_or(Value::Null),
            None => item.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(identity).collect();
    let mut sorted = Vec::with_capacity(items.len());
    let mut rest = std::mem::take(items);
    for id in &wanted {
        if let Some(at) = rest.iter().position(|item| identity(item) == *id) {
            sorted.push(rest.remove(at));
        }
    }
    sorted.extend(rest);
    *items = sorted;
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::{ApiVersion, Kind};
    use serde_json::json;

    fn node_image() -> Value {
        json!({
            "metadata": {"name": "n", "finalizers": ["a", "b"]},
            "spec": {"images": {"nginx": {"tags": [
                {"tag": "1.25", "version": 1},
                {"tag": "1.27", "version": 2}
            ]}}}
        })
    }

    fn patch(original: &Value, patch: Value) -> Result<Value, StrategicMergeError> {
        apply(
            original,
            &patch,
            SchemaNode::root(Kind::NodeImage, ApiVersion::V1alpha1),
        )
    }

    fn tags(object: &Value) -> Vec<&str> {
        object["spec"]["images"]["nginx"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_new_tag_is_added_next_to_the_others_and_a_known_tag_merges() {
        let out = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {"tags": [
                {"tag": "1.29", "version": 0},
                {"tag": "1.25", "version": 5}
            ]}}}}),
        )
        .unwrap();
        assert_eq!(tags(&out), ["1.25", "1.27", "1.29"]);
        assert_eq!(out["spec"]["images"]["nginx"]["tags"][0]["version"], 5);
    }

    #[test]
    fn patch_delete_removes_one_tag_and_replace_replaces_the_list() {
        let deleted = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {"tags": [{"tag": "1.25", "$patch": "delete"}]}}}}),
        )
        .unwrap();
        assert_eq!(tags(&deleted), ["1.27"]);
        let replaced = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {"tags": [{"$patch": "replace"}, {"tag": "2"}]}}}}),
        )
        .unwrap();
        assert_eq!(tags(&replaced), ["2"]);
        let image_gone = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {"$patch": "delete"}}}}),
        )
        .unwrap();
        assert_eq!(image_gone["spec"]["images"], json!({}));
    }

    #[test]
    fn set_element_order_orders_the_result() {
        let out = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {
                "$setElementOrder/tags": [{"tag": "1.27"}, {"tag": "1.26"}, {"tag": "1.25"}],
                "tags": [{"tag": "1.26"}]
            }}}}),
        )
        .unwrap();
        assert_eq!(tags(&out), ["1.27", "1.26", "1.25"]);
    }

    #[test]
    fn primitive_merge_lists_are_sets_and_lose_what_delete_from_primitive_list_names() {
        let out = patch(
            &node_image(),
            json!({"metadata": {
                "finalizers": ["c", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"]
            }}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced_and_null_removes_a_field() {
        let original = json!({"spec": {"images": {"nginx": {
            "pullSecrets": [{"name": "a", "namespace": "x"}], "tags": []
        }}}});
        let out = patch(
            &original,
            json!({"spec": {"images": {"nginx": {"pullSecrets": [{"name": "b", "namespace": "x"}], "tags": null}}}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["images"]["nginx"],
            json!({"pullSecrets": [{"name": "b", "namespace": "x"}]})
        );
    }

    #[test]
    fn retain_keys_drops_the_other_keys() {
        let out = patch(
            &json!({"spec": {"a": 1, "b": 2}}),
            json!({"spec": {"$retainKeys": ["b", "c"], "c": 3}}),
        )
        .unwrap();
        assert_eq!(out["spec"], json!({"b": 2, "c": 3}));
    }

    #[test]
    fn bad_directives_and_missing_merge_keys_are_refused() {
        let unknown = patch(&node_image(), json!({"spec": {"$patch": "explode"}}));
        assert!(matches!(unknown, Err(Malformed(m)) if m.contains("Unknown patch type")));
        let keyless = patch(
            &node_image(),
            json!({"spec": {"images": {"nginx": {"tags": [{"version": 3}]}}}}),
        );
        assert!(
            matches!(keyless, Err(NotApplicable(m)) if m.contains("does not contain declared merge key: tag"))
        );
        let not_object = patch(&node_image(), json!([1]));
        assert!(matches!(not_object, Err(Malformed(_))));
    }
}
