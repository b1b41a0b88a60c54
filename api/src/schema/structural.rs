//! Rewrites schemars output into the Kubernetes structural-schema dialect.
//!
//! schemars describes Rust's view of a type (`nullable` options, serde `default`s, `null` in
//! enums, `$schema`/`title` keys). Kubernetes publishes none of these: an absent field is the
//! only "unset", and defaults are applied by the server, not advertised. Doc comments arrive
//! hard-wrapped; Kubernetes descriptions are paragraphs that kubectl rewraps, so single line
//! breaks are joined.

use serde_json::{Map, Value};

/// Keys schemars emits that Kubernetes schemas never carry.
const DROPPED_KEYS: &[&str] = &[
    "$schema", "title", "nullable", "default", "examples", "example",
];

/// Normalises `schema` in place, recursively (see the module docs).
pub(crate) fn make_structural(schema: &mut Value) {
    match schema {
        Value::Object(object) => normalise_object(object),
        Value::Array(items) => items.iter_mut().for_each(make_structural),
        _ => {}
    }
}

fn normalise_object(object: &mut Map<String, Value>) {
    for key in DROPPED_KEYS {
        object.remove(*key);
    }
    collapse_null_branches(object);

    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(types)) = object.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if let [single] = non_null.as_slice() {
            object.insert("type".into(), single.clone());
        }
    }
    // `additionalProperties: false` comes from `deny_unknown_fields`, `true` from flatten
    // catch-alls; neither is structural. Pruning of unknown fields is the server's job.
    if matches!(object.get("additionalProperties"), Some(Value::Bool(_))) {
        object.remove("additionalProperties");
    }
    if let Some(Value::String(description)) = object.get_mut("description") {
        *description = unwrap_paragraphs(description);
    }

    // Recurse into sub-schemas only: `properties` is a map of names to schemas, and
    // `required`/`enum`/extension values are data, not schemas.
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(make_structural);
    }
    for key in [
        "items",
        "additionalProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
    ] {
        if let Some(sub) = object.get_mut(key) {
            make_structural(sub);
        }
    }
}

/// `anyOf: [X, {type: null}]` (how schemars may spell `Option<X>`) becomes plain `X`, keeping the
/// outer keys (description, extensions) which describe the field.
fn collapse_null_branches(object: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = object.get_mut(key) else {
            continue;
        };
        branches.retain(|branch| !is_null_schema(branch));
        if branches.len() == 1 {
            let Some(Value::Object(only)) = branches.pop() else {
                continue;
            };
            object.remove(key);
            for (k, v) in only {
                object.entry(k).or_insert(v);
            }
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    match schema {
        Value::Object(o) => {
            o.get("type").and_then(Value::as_str) == Some("null")
                || o.get("enum")
                    .is_some_and(|e| e == &Value::Array(vec![Value::Null]))
        }
        _ => false,
    }
}

/// Joins hard-wrapped lines into paragraphs; blank lines stay paragraph breaks.
fn unwrap_paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_options_and_defaults_are_removed() {
        let mut schema = json!({
            "type": "object",
            "default": {},
            "properties": {
                "a": {"type": "integer", "nullable": true, "default": 0},
                "b": {"type": "string", "enum": ["X", null], "nullable": true},
                "c": {"description": "doc", "anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
            }
        });
        make_structural(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "integer"},
                    "b": {"type": "string", "enum": ["X"]},
                    "c": {"description": "doc", "type": "object", "properties": {}},
                }
            })
        );
    }

    #[test]
    fn wrapped_doc_lines_become_one_paragraph() {
        assert_eq!(unwrap_paragraphs("one\ntwo\n\nthree"), "one two\n\nthree");
    }

    #[test]
    fn property_names_that_look_like_keywords_are_kept() {
        let mut schema = json!({"type": "object", "properties": {"default": {"type": "string"}, "title": {"type": "string"}}});
        make_structural(&mut schema);
        assert!(schema["properties"]["default"].is_object());
        assert!(schema["properties"]["title"].is_object());
    }
}
