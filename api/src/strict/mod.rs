//! Strict decoding of request bodies against the published schema.
//!
//! kube-apiserver decodes a custom resource in three steps, and so do we: parse the JSON
//! (noting duplicate keys), prune fields the schema does not know (noting their paths, e.g.
//! `spec.foo`), then decode the typed object. Whether unknown and duplicate fields are an error
//! (`fieldValidation=Strict`), a warning (`Warn`) or ignored (`Ignore`) is the caller's choice:
//! [`decode`] reports them in [`Decoded`] and always returns the pruned object. Malformed JSON
//! and values of the wrong JSON type are always errors ([`DecodeError`]), naming the field.

mod duplicate_keys;
mod path;
mod schema_walk;

use std::fmt;

use serde_json::Value;

use crate::group::{ApiVersion, KruiseResource};
use crate::schema::{self, definition_name};

/// A decoded object and what strict field validation has to say about its body.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<T> {
    /// The object, with unknown fields dropped and duplicate keys resolved (last one wins).
    pub object: T,
    /// Paths of fields the schema does not define, sorted: `spec.foo`, `spec.images.nginx.bar`.
    pub unknown_fields: Vec<String>,
    /// Paths of keys that appeared more than once in one JSON object, in document order.
    pub duplicate_fields: Vec<String>,
}

impl<T> Decoded<T> {
    /// Whether the body was clean, i.e. `fieldValidation=Strict` accepts it.
    pub fn is_strictly_valid(&self) -> bool {
        self.unknown_fields.is_empty() && self.duplicate_fields.is_empty()
    }

    /// The strictness problems as kube-apiserver words them (`unknown field "spec.foo"`,
    /// `duplicate field "spec.image"`), for a Strict error or for `Warning` headers.
    pub fn strict_messages(&self) -> Vec<String> {
        let unknown = self
            .unknown_fields
            .iter()
            .map(|f| format!("unknown field \"{f}\""));
        let duplicate = self
            .duplicate_fields
            .iter()
            .map(|f| format!("duplicate field \"{f}\""));
        unknown.chain(duplicate).collect()
    }
}

/// A value whose JSON type does not match the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrongType {
    /// Path of the value, e.g. `spec.parallelism`.
    pub field: String,
    /// What the schema wants: `string`, `integer`, `int32`, `object`, `integer or string`, ...
    pub expected: &'static str,
    /// The JSON type found: `string`, `number`, `object`, ...
    pub found: &'static str,
}

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in body must be of type {}: \"{}\"",
            self.field, self.expected, self.found
        )
    }
}

/// Why a body could not be decoded. The caller answers 400 Bad Request with this message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not well-formed JSON; the message has line and column.
    #[error("malformed JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("the body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// Some values have the wrong JSON type; each names its field.
    #[error("{}", join_wrong_types(.0))]
    WrongTypes(Vec<WrongType>),
    /// The value passed the schema but not the typed decoder (e.g. a malformed timestamp).
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the offending value as reported by the decoder, e.g. `status.startTime`.
        field: String,
        /// What was wrong with it.
        message: String,
    },
}

fn join_wrong_types(errors: &[WrongType]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes a JSON body of kind `T` received through `version` (see the module docs).
pub fn decode<T: KruiseResource>(
    body: &[u8],
    version: ApiVersion,
) -> Result<Decoded<T>, DecodeError> {
    let (value, duplicate_fields) =
        duplicate_keys::parse_with_duplicates(body).map_err(DecodeError::Syntax)?;
    let mut decoded = decode_value::<T>(value, version)?;
    decoded.duplicate_fields = duplicate_fields;
    Ok(decoded)
}

/// Like [`decode`] for an already parsed value, e.g. the result of applying a patch
/// (duplicate keys cannot be detected any more and are not reported).
pub fn decode_value<T: KruiseResource>(
    mut value: Value,
    version: ApiVersion,
) -> Result<Decoded<T>, DecodeError> {
    let unknown_fields = prune::<T>(&mut value, version)?;
    let object = serde_path_to_error::deserialize(value).map_err(|e| DecodeError::Invalid {
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    })?;
    Ok(Decoded {
        object,
        unknown_fields,
        duplicate_fields: Vec::new(),
    })
}

/// Removes from `value` what the schema of `T` in `version` does not define (and `null`
/// members), returning the sorted paths of removed unknown fields; fails on JSON type
/// mismatches. Useful on its own for JSON the server keeps untyped.
pub fn prune<T: KruiseResource>(
    value: &mut Value,
    version: ApiVersion,
) -> Result<Vec<String>, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError::NotAnObject(json_kind(value)));
    }
    let components = schema::canonical(version);
    let root = components
        .get(&definition_name(T::KIND, version))
        .expect("every kind has a schema in every version");
    let mut report = schema_walk::walk(components, root, value);
    if !report.wrong_types.is_empty() {
        return Err(DecodeError::WrongTypes(report.wrong_types));
    }
    report.unknown_fields.sort();
    Ok(report.unknown_fields)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
