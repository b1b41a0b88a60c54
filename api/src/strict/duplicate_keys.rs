//! JSON parsing that remembers duplicate object keys.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, as Go does. Kubernetes still
//! reports them under `fieldValidation=Strict`, so the body is parsed once through a visitor
//! that builds the same `Value` (last key wins) and records each repeated key's path.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::path::{child_index, child_key};

/// Parses `bytes` as one JSON document. Returns the value (later duplicates override earlier
/// ones) and the paths of duplicated keys in document order, e.g. `spec.image`.
pub(crate) fn parse_with_duplicates(
    bytes: &[u8],
) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut duplicates = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = TrackingSeed {
        path: String::new(),
        duplicates: &mut duplicates,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok((value, duplicates))
}

/// Deserializes one JSON value at `path`, appending repeated keys to `duplicates`.
struct TrackingSeed<'a> {
    path: String,
    duplicates: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for TrackingSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TrackingSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = TrackingSeed {
                path: child_index(&self.path, items.len()),
                duplicates: &mut *self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child_key(&self.path, &key);
            if object.contains_key(&key) {
                self.duplicates.push(path.clone());
            }
            let value = map.next_value_seed(TrackingSeed {
                path,
                duplicates: &mut *self.duplicates,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_key_is_reported_with_its_path_and_the_last_value_wins() {
        let body = br#"{"spec": {"image": "a", "selector": {"names": ["n"]}, "image": "b"}}"#;
        let (value, duplicates) = parse_with_duplicates(body).unwrap();
        assert_eq!(duplicates, vec!["spec.image"]);
        assert_eq!(value["spec"]["image"], json!("b"));
    }

    #[test]
    fn repeated_keys_inside_arrays_name_the_index() {
        let body = br#"{"items": [{"a": 1}, {"a": 1, "a": 2}]}"#;
        let (_, duplicates) = parse_with_duplicates(body).unwrap();
        assert_eq!(duplicates, vec!["items[1].a"]);
    }

    #[test]
    fn equal_keys_in_different_objects_are_not_duplicates() {
        let body = br#"{"a": {"x": 1}, "b": {"x": 1}, "c": [1, 2.5, null, true]}"#;
        let (value, duplicates) = parse_with_duplicates(body).unwrap();
        assert!(duplicates.is_empty());
        assert_eq!(value, serde_json::from_slice::<Value>(body).unwrap());
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        assert!(parse_with_duplicates(br#"{"a": 1} x"#).is_err());
    }
}
