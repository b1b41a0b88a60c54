//! [`apply_bounded`]: a JSON patch applied with a bound on the object it grows. `copy`
//! duplicates a subtree the patch does not carry, so a few hundred bytes of operations could
//! double an object at each step (18 copies of a map make 268 MB); kube-apiserver bounds the
//! accumulated copies the same way. The bound is the storage's object limit: a result larger
//! than that could never be stored anyway.

use json_patch::PatchOperation;
use serde_json::Value;

use super::errors;
use crate::http::status::ApiError;

/// Applies `operations` to `document` in order, refusing (413) as soon as the object could
/// exceed `limit` serialized bytes. On error `document` may hold part of the patch: callers
/// work on a copy.
pub fn apply_bounded(
    document: &mut Value,
    operations: &[PatchOperation],
    limit: usize,
) -> Result<(), ApiError> {
    // An upper bound of the document's size: what it was, plus every copy since. Only
    // copies can grow it past what the request carried.
    let mut bound = serialized_len(document, usize::MAX);
    for operation in operations {
        if let PatchOperation::Copy(copy) = operation {
            let copied = document
                .pointer(copy.from.as_str())
                .map_or(0, |value| serialized_len(value, limit.saturating_add(1)));
            bound = bound.saturating_add(copied);
            if bound > limit {
                // Removals may have made room: measure before refusing.
                bound = serialized_len(document, limit.saturating_add(1)).saturating_add(copied);
                if bound > limit {
                    return Err(errors::patch_too_large(limit));
                }
            }
        }
        json_patch::patch(document, std::slice::from_ref(operation))
            .map_err(|e| errors::patch_not_applicable(e.to_string()))?;
    }
    Ok(())
}

/// The length of `value` as compact JSON, counted up to `stop` (a longer value reports
/// `stop`), without building the text.
fn serialized_len(value: &Value, stop: usize) -> usize {
    struct Counter {
        count: usize,
        stop: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.count = self.count.saturating_add(buf.len());
            if self.count >= self.stop {
                return Err(std::io::Error::other("long enough"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { count: 0, stop };
    let _ = serde_json::to_writer(&mut counter, value);
    counter.count.min(stop)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operations(value: Value) -> Vec<PatchOperation> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn doubling_copies_are_refused_before_the_object_grows_past_the_limit() {
        let mut document = json!({"metadata": {"annotations": {"a": "x".repeat(1000)}}});
        let doubling: Vec<Value> = (0..18)
            .map(|i| {
                json!({"op": "copy", "from": "/metadata/annotations",
                       "path": format!("/metadata/annotations/c{i}")})
            })
            .collect();
        let err =
            apply_bounded(&mut document, &operations(Value::Array(doubling)), 100_000).unwrap_err();
        assert_eq!(err.code.as_u16(), 413);
        assert!(serialized_len(&document, usize::MAX) <= 100_000);
    }

    #[test]
    fn ordinary_patches_apply_in_order() {
        let mut document = json!({"spec": {"a": 1}});
        let ops = operations(json!([
            {"op": "copy", "from": "/spec/a", "path": "/spec/b"},
            {"op": "remove", "path": "/spec/a"},
            {"op": "test", "path": "/spec/b", "value": 1},
        ]));
        apply_bounded(&mut document, &ops, 1000).unwrap();
        assert_eq!(document, json!({"spec": {"b": 1}}));
        let failing = operations(json!([{"op": "test", "path": "/spec/b", "value": 2}]));
        assert_eq!(
            apply_bounded(&mut document, &failing, 1000)
                .unwrap_err()
                .code
                .as_u16(),
            422
        );
    }

    #[test]
    fn the_length_count_stops_early_and_matches_the_text() {
        let value = json!({"k": ["é", 1, null]});
        assert_eq!(serialized_len(&value, usize::MAX), value.to_string().len());
        assert_eq!(serialized_len(&value, 3), 3);
    }
}
