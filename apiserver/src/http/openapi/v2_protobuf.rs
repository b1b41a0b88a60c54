//! `/openapi/v2` in protobuf: kubectl (`explain --output=plaintext-openapiv2`, and every
//! kubectl before 1.27) and client-go's `OpenAPISchema()` ask for
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` only, with no JSON fallback.
//!
//! The Swagger JSON built by [`super::v2`] is converted into [`gnostic`] messages, as
//! kube-openapi does with gnostic's parser; only the keywords that document uses are mapped.

use bytes::Bytes;
use prost::Message;
use serde_json::{Map, Value};

use super::gnostic::{
    AdditionalPropertiesItem, AdditionalPropertiesOneof, Any, BodyParameter, Definitions, Document,
    Info, ItemsItem, NamedAny, NamedPathItem, NamedResponseValue, NamedSchema, NonBodyParameter,
    NonBodyParameterOneof, Operation, Parameter, ParameterOneof, ParametersItem,
    ParametersItemOneof, PathItem, PathParameterSubSchema, Paths, Properties,
    QueryParameterSubSchema, Response, ResponseValue, ResponseValueOneof, Responses, Schema,
    SchemaItem, SchemaItemOneof, TypeItem,
};

/// The media type kubectl asks for (the `@` spelling is the one clients send).
pub const MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The same media type as kube-apiserver names it in responses.
pub const RESPONSE_MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The protobuf encoding of a Swagger 2.0 JSON document.
pub fn encode(swagger: &Value) -> Bytes {
    Bytes::from(document(swagger).encode_to_vec())
}

fn document(swagger: &Value) -> Document {
    let empty = Map::new();
    let root = swagger.as_object().unwrap_or(&empty);
    let object = |key: &str| root.get(key).and_then(Value::as_object);
    Document {
        swagger: text(root, "swagger"),
        info: object("info").map(|info| Info {
            title: text(info, "title"),
            version: text(info, "version"),
        }),
        paths: object("paths").map(|paths| Paths {
            path: paths
                .iter()
                .map(|(name, item)| NamedPathItem {
                    name: name.clone(),
                    value: item.as_object().map(path_item),
                })
                .collect(),
        }),
        definitions: object("definitions").map(|definitions| Definitions {
            additional_properties: named_schemas(definitions),
        }),
    }
}

fn path_item(item: &Map<String, Value>) -> PathItem {
    let operation = |method: &str| item.get(method).and_then(Value::as_object).map(operation);
    PathItem {
        get: operation("get"),
        put: operation("put"),
        post: operation("post"),
        delete: operation("delete"),
        patch: operation("patch"),
        parameters: parameters(item),
    }
}

fn operation(operation: &Map<String, Value>) -> Operation {
    Operation {
        tags: texts(operation, "tags"),
        description: text(operation, "description"),
        operation_id: text(operation, "operationId"),
        produces: texts(operation, "produces"),
        consumes: texts(operation, "consumes"),
        parameters: parameters(operation),
        responses: operation
            .get("responses")
            .and_then(Value::as_object)
            .map(responses),
        schemes: texts(operation, "schemes"),
        vendor_extension: vendor_extensions(operation),
    }
}

fn parameters(owner: &Map<String, Value>) -> Vec<ParametersItem> {
    owner
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(parameter)
        .map(|parameter| ParametersItem {
            oneof: Some(ParametersItemOneof::Parameter(parameter)),
        })
        .collect()
}

fn parameter(param: &Map<String, Value>) -> Option<Parameter> {
    let required = param
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let unique_items = param
        .get("uniqueItems")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let location = text(param, "in");
    let oneof = match location.as_str() {
        "body" => ParameterOneof::BodyParameter(Box::new(BodyParameter {
            description: text(param, "description"),
            name: text(param, "name"),
            r#in: location,
            required,
            schema: param.get("schema").map(schema),
        })),
        "query" => non_body(NonBodyParameterOneof::QueryParameterSubSchema(
            QueryParameterSubSchema {
                required,
                r#in: location,
                description: text(param, "description"),
                name: text(param, "name"),
                r#type: text(param, "type"),
                unique_items,
            },
        )),
        "path" => non_body(NonBodyParameterOneof::PathParameterSubSchema(
            PathParameterSubSchema {
                required,
                r#in: location,
                description: text(param, "description"),
                name: text(param, "name"),
                r#type: text(param, "type"),
                unique_items,
            },
        )),
        _ => return None,
    };
    Some(Parameter { oneof: Some(oneof) })
}

fn non_body(oneof: NonBodyParameterOneof) -> ParameterOneof {
    ParameterOneof::NonBodyParameter(NonBodyParameter { oneof: Some(oneof) })
}

fn responses(responses: &Map<String, Value>) -> Responses {
    Responses {
        response_code: responses
            .iter()
            .filter_map(|(code, response)| {
                let response = response.as_object()?;
                Some(NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        oneof: Some(ResponseValueOneof::Response(Response {
                            description: text(response, "description"),
                            schema: response.get("schema").map(|s| SchemaItem {
                                oneof: Some(SchemaItemOneof::Schema(schema(s))),
                            }),
                        })),
                    }),
                })
            })
            .collect(),
    }
}

fn named_schemas(schemas: &Map<String, Value>) -> Vec<NamedSchema> {
    schemas
        .iter()
        .map(|(name, value)| NamedSchema {
            name: name.clone(),
            value: Some(schema(value)),
        })
        .collect()
}

fn schema(value: &Value) -> Schema {
    let empty = Map::new();
    let object = value.as_object().unwrap_or(&empty);
    let number = |key: &str| object.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let integer = |key: &str| object.get(key).and_then(Value::as_i64).unwrap_or(0);
    let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
    Schema {
        r#ref: text(object, "$ref"),
        format: text(object, "format"),
        title: text(object, "title"),
        description: text(object, "description"),
        default: object.get("default").map(any),
        maximum: number("maximum"),
        minimum: number("minimum"),
        max_length: integer("maxLength"),
        min_length: integer("minLength"),
        pattern: text(object, "pattern"),
        max_items: integer("maxItems"),
        min_items: integer("minItems"),
        unique_items: flag("uniqueItems"),
        max_properties: integer("maxProperties"),
        min_properties: integer("minProperties"),
        required: texts(object, "required"),
        r#enum: object
            .get("enum")
            .and_then(Value::as_array)
            .map(|values| values.iter().map(any).collect())
            .unwrap_or_default(),
        additional_properties: object.get("additionalProperties").and_then(|extra| {
            let oneof = match extra {
                Value::Bool(allowed) => AdditionalPropertiesOneof::Boolean(*allowed),
                Value::Object(_) => AdditionalPropertiesOneof::Schema(Box::new(schema(extra))),
                _ => return None,
            };
            Some(Box::new(AdditionalPropertiesItem { oneof: Some(oneof) }))
        }),
        r#type: match object.get("type") {
            Some(Value::String(one)) => Some(TypeItem {
                value: vec![one.clone()],
            }),
            Some(Value::Array(_)) => Some(TypeItem {
                value: texts(object, "type"),
            }),
            _ => None,
        },
        items: match object.get("items") {
            Some(Value::Array(all)) => Some(ItemsItem {
                schema: all.iter().map(schema).collect(),
            }),
            Some(one @ Value::Object(_)) => Some(ItemsItem {
                schema: vec![schema(one)],
            }),
            _ => None,
        },
        all_of: object
            .get("allOf")
            .and_then(Value::as_array)
            .map(|all| all.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: object
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| Properties {
                additional_properties: named_schemas(properties),
            }),
        read_only: flag("readOnly"),
        example: object.get("example").map(any),
        vendor_extension: vendor_extensions(object),
    }
}

/// Every `x-` key, its value as YAML (JSON text).
fn vendor_extensions(object: &Map<String, Value>) -> Vec<NamedAny> {
    object
        .iter()
        .filter(|(key, _)| key.starts_with("x-"))
        .map(|(key, value)| NamedAny {
            name: key.clone(),
            value: Some(any(value)),
        })
        .collect()
}

fn any(value: &Value) -> Any {
    Any {
        yaml: serde_json::to_string(value).expect("a JSON value serializes"),
    }
}

fn text(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn texts(object: &Map<String, Value>, key: &str) -> Vec<String> {
    object
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schema_keeps_its_structure_and_extensions_through_protobuf() {
        let swagger = json!({
            "swagger": "2.0",
            "info": {"title": "t", "version": "v1"},
            "paths": {},
            "definitions": {
                "a.B": {
                    "type": "object",
                    "description": "B things",
                    "required": ["spec"],
                    "properties": {
                        "spec": {"$ref": "#/definitions/a.C", "description": "the spec"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "mode": {"type": "string", "enum": ["Always", "Never"]},
                    },
                    "x-kubernetes-group-version-kind": [{"group": "g", "kind": "B", "version": "v1"}],
                },
            },
        });
        let decoded = Document::decode(encode(&swagger)).unwrap();
        assert_eq!(decoded.swagger, "2.0");
        let b = &decoded.definitions.unwrap().additional_properties[0];
        assert_eq!(b.name, "a.B");
        let b = b.value.as_ref().unwrap();
        assert_eq!(b.required, ["spec"]);
        assert_eq!(b.r#type.as_ref().unwrap().value, ["object"]);
        let extension = &b.vendor_extension[0];
        assert_eq!(extension.name, "x-kubernetes-group-version-kind");
        let gvk: Value = serde_json::from_str(&extension.value.as_ref().unwrap().yaml).unwrap();
        assert_eq!(gvk[0]["kind"], "B");
        let properties = &b.properties.as_ref().unwrap().additional_properties;
        let property = |name: &str| {
            properties
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
                .unwrap()
        };
        assert_eq!(property("spec").r#ref, "#/definitions/a.C");
        assert_eq!(
            property("tags").items.unwrap().schema[0]
                .r#type
                .as_ref()
                .unwrap()
                .value,
            ["string"]
        );
        assert!(matches!(
            property("labels").additional_properties.unwrap().oneof,
            Some(AdditionalPropertiesOneof::Schema(_))
        ));
        assert_eq!(property("mode").r#enum[1].yaml, "\"Never\"");
    }

    #[test]
    fn operations_keep_their_parameters_responses_and_extensions() {
        let swagger = json!({
            "swagger": "2.0",
            "paths": {"/x/{name}": {
                "parameters": [{"name": "name", "in": "path", "required": true, "type": "string"}],
                "patch": {
                    "operationId": "patchX",
                    "consumes": ["application/merge-patch+json"],
                    "parameters": [
                        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/P"}},
                        {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true},
                    ],
                    "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/X"}}},
                    "x-kubernetes-action": "patch",
                },
            }},
        });
        let decoded = Document::decode(encode(&swagger)).unwrap();
        let item = decoded.paths.unwrap().path[0].value.clone().unwrap();
        assert_eq!(item.parameters.len(), 1);
        let patch = item.patch.unwrap();
        assert_eq!(patch.operation_id, "patchX");
        assert_eq!(patch.consumes, ["application/merge-patch+json"]);
        assert_eq!(patch.parameters.len(), 2);
        assert_eq!(
            patch.vendor_extension[0].value.as_ref().unwrap().yaml,
            "\"patch\""
        );
        assert_eq!(patch.responses.unwrap().response_code[0].name, "200");
    }
}
