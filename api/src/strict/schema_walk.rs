//! Walks a JSON value along its schema, the way kube-apiserver treats custom resources:
//! unknown fields are removed and reported, `null` object members are removed (no field here is
//! nullable: an absent field is the only "unset"), and values of the wrong JSON type are
//! reported.

use serde_json::{Map, Value};

use super::WrongType;
use super::path::{child_index, child_key};
use crate::schema::resolve;

/// What one walk found.
#[derive(Debug, Default)]
pub(crate) struct WalkReport {
    /// Paths of removed unknown fields, in walk order.
    pub(crate) unknown_fields: Vec<String>,
    /// Values whose JSON type does not match the schema.
    pub(crate) wrong_types: Vec<WrongType>,
}

/// Prunes and checks `value` against `schema`, resolving refs in `components`.
pub(crate) fn walk(
    components: &Map<String, Value>,
    schema: &Value,
    value: &mut Value,
) -> WalkReport {
    let mut report = WalkReport::default();
    Walker {
        components,
        report: &mut report,
    }
    .visit(schema, value, "");
    report
}

struct Walker<'a> {
    components: &'a Map<String, Value>,
    report: &'a mut WalkReport,
}

impl Walker<'_> {
    fn visit(&mut self, schema: &Value, value: &mut Value, path: &str) {
        let Some(schema) = resolve(self.components, schema) else {
            return;
        };
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            if !(value.is_string() || is_integer(value)) {
                self.wrong_type(path, "integer or string", value);
            }
            return;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => self.visit_object(schema, value, path),
            Some("array") => match value {
                Value::Array(items) => {
                    let item_schema = schema.get("items").unwrap_or(&Value::Null);
                    for (index, item) in items.iter_mut().enumerate() {
                        self.visit(item_schema, item, &child_index(path, index));
                    }
                }
                _ => self.wrong_type(path, "array", value),
            },
            Some("string") if !value.is_string() => self.wrong_type(path, "string", value),
            Some("boolean") if !value.is_boolean() => self.wrong_type(path, "boolean", value),
            Some("number") if !value.is_number() => self.wrong_type(path, "number", value),
            Some("integer") => {
                let format = schema.get("format").and_then(Value::as_str);
                if !is_integer(value) {
                    self.wrong_type(path, "integer", value);
                } else if format == Some("int32")
                    && value.as_i64().and_then(|n| i32::try_from(n).ok()).is_none()
                {
                    self.wrong_type(path, "int32", value);
                } else if value.as_i64().is_none() {
                    self.wrong_type(path, "int64", value);
                }
            }
            _ => {}
        }
    }

    fn visit_object(&mut self, schema: &Value, value: &mut Value, path: &str) {
        let Value::Object(object) = value else {
            self.wrong_type(path, "object", value);
            return;
        };
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|s| s.is_object());
        if properties.is_none() && additional.is_none() {
            // A free-form object such as `FieldsV1`: anything goes.
            return;
        }
        object.retain(|key, member| {
            if member.is_null() {
                return false;
            }
            let field_schema = properties.and_then(|p| p.get(key)).or(additional);
            let child = child_key(path, key);
            match field_schema {
                Some(field_schema) => {
                    self.visit(field_schema, member, &child);
                    true
                }
                None => {
                    self.report.unknown_fields.push(child);
                    false
                }
            }
        });
    }

    fn wrong_type(&mut self, path: &str, expected: &'static str, value: &Value) {
        self.report.wrong_types.push(WrongType {
            field: path.to_owned(),
            expected,
            found: json_type_name(value),
        });
    }
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64()
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
