//! Field-by-field comparison of two objects as `kubectl get -o json` prints them, after
//! removing what necessarily differs between two servers (uids, resourceVersions, managed
//! fields, generation, timestamps' values).

use std::collections::BTreeMap;

use serde_json::Value;

/// Metadata both servers set to values of their own.
const IGNORED_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "managedFields",
    "generation",
    "creationTimestamp",
    "selfLink",
];

/// One leaf (or a value present on one side only) that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `spec.selector.names[0]`-style path.
    pub path: String,
    /// Kruise's value, `None` when the field is absent there.
    pub kruise: Option<String>,
    /// Ours, `None` when absent.
    pub ours: Option<String>,
}

/// Every difference between `kruise` and `ours`, sorted by path.
pub fn differences(kruise: &Value, ours: &Value) -> Vec<Difference> {
    let kruise = leaves(&normalized(kruise));
    let ours = leaves(&normalized(ours));
    let mut paths: Vec<&String> = kruise.keys().chain(ours.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (k, o) = (kruise.get(path), ours.get(path));
            (k != o).then(|| Difference {
                path: path.clone(),
                kruise: k.cloned(),
                ours: o.cloned(),
            })
        })
        .collect()
}

/// The object without [`IGNORED_METADATA`], with every uid shown as `<uid>` and every
/// RFC 3339 timestamp as `<time>` (their presence still counts).
fn normalized(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in IGNORED_METADATA {
            metadata.remove(*key);
        }
    }
    mask(&mut object);
    object
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "uid" && child.is_string() {
                    *child = Value::from("<uid>");
                } else {
                    mask(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::String(text) if looks_like_timestamp(text) => *text = String::from("<time>"),
        _ => {}
    }
}

/// `2026-12-07T06:30:00Z` (optionally with fractional seconds or an offset).
fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[..4].iter().all(u8::is_ascii_digit)
}

/// Path -> JSON text of every scalar leaf; empty objects and arrays count as leaves.
fn leaves(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

fn walk(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, child_path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{index}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_uids_and_timestamp_values_but_not_their_presence() {
        let kruise = serde_json::json!({
            "metadata": {"name": "a", "uid": "1", "resourceVersion": "5"},
            "status": {"startTime": "2026-12-07T06:30:00Z", "succeeded": 2},
        });
        let ours = serde_json::json!({
            "metadata": {"name": "a", "uid": "2", "resourceVersion": "9"},
            "status": {"startTime": "2026-12-07T06:31:07.5Z", "succeeded": 2,
                       "completionTime": "2026-12-07T06:31:08Z"},
        });
        let found = differences(&kruise, &ours);
        assert_eq!(
            found,
            vec![Difference {
                path: "status.completionTime".into(),
                kruise: None,
                ours: Some("\"<time>\"".into()),
            }]
        );
    }
}
