//! The Swagger 2.0 document (`/openapi/v2`): both served versions in one document, as
//! kube-apiserver publishes every group in one. kube-aggregator merges it into the cluster's
//! document; `kubectl explain --output=plaintext-openapiv2` and older kubectl read it.

use prepull_api::group::{ApiVersion, GROUP};
use prepull_api::schema::{RefStyle, components, to_v2_refs};
use serde_json::{Map, Value, json};

use super::meta_schemas;
use super::operations::{self, Operation, PathItem, RESPONSE_CONTENT_TYPES};
use super::parameters::{PRETTY, QueryParam};

const REF_PREFIX: &str = "#/definitions/";

/// The whole document.
pub fn document() -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for version in ApiVersion::ALL {
        definitions.extend(components(version, RefStyle::OpenApiV2));
        let tag = operations::tag(version);
        for item in operations::paths(version) {
            paths.insert(item.path.clone(), path_item(&item, version, &tag));
        }
    }
    for (name, mut schema) in meta_schemas::definitions() {
        to_v2_refs(&mut schema);
        definitions.entry(name).or_insert(schema);
    }
    json!({
        "swagger": "2.0",
        "info": {
            "title": "Prepull apps.kruise.io",
            "version": concat!("v", env!("CARGO_PKG_VERSION")),
        },
        "paths": paths,
        "definitions": definitions,
    })
}

fn path_item(item: &PathItem, version: ApiVersion, tag: &str) -> Value {
    let mut object = Map::new();
    for operation in &item.operations {
        object.insert(
            operation.action.method().into(),
            self::operation(operation, item, version, tag),
        );
    }
    let name = item.kind.info().name;
    let mut shared = Vec::new();
    if item.name_param {
        shared.push(path_param("name", &format!("name of the {name}")));
    }
    if item.namespace_param {
        shared.push(path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    shared.push(query_param(&PRETTY));
    object.insert("parameters".into(), shared.into());
    object.into()
}

fn operation(operation: &Operation, item: &PathItem, version: ApiVersion, tag: &str) -> Value {
    let mut responses = Map::new();
    for response in &operation.responses {
        responses.insert(
            response.code.to_string(),
            json!({
                "description": response.description,
                "schema": reference(&response.schema),
            }),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut parameters: Vec<Value> = operation.query.iter().map(query_param).collect();
    let consumes: Vec<&str> = match &operation.body {
        Some(body) => {
            parameters.insert(
                0,
                json!({
                    "name": "body",
                    "in": "body",
                    "required": body.required,
                    "schema": reference(&body.schema),
                }),
            );
            body.content_types.to_vec()
        }
        None => vec!["*/*"],
    };
    json!({
        "description": operation.description,
        "consumes": consumes,
        "produces": RESPONSE_CONTENT_TYPES,
        "schemes": ["https"],
        "tags": [tag],
        "operationId": operation.id,
        "parameters": parameters,
        "responses": responses,
        "x-kubernetes-action": operation.action.as_str(),
        "x-kubernetes-group-version-kind": {
            "group": GROUP,
            "version": version.as_str(),
            "kind": item.kind.info().name,
        },
    })
}

fn reference(definition: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{definition}")})
}

fn query_param(param: &QueryParam) -> Value {
    json!({
        "uniqueItems": true,
        "type": param.type_.as_str(),
        "description": param.description,
        "name": param.name,
        "in": "query",
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "uniqueItems": true,
        "type": "string",
        "description": description,
        "name": name,
        "in": "path",
        "required": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_v3_references_become_plain_v2_references() {
        let mut schema = json!({
            "properties": {
                "details": {
                    "allOf": [{"$ref": "#/components/schemas/X"}],
                    "description": "d",
                },
                "items": {"items": {"$ref": "#/components/schemas/Y"}},
            }
        });
        to_v2_refs(&mut schema);
        assert_eq!(
            schema,
            json!({
                "properties": {
                    "details": {"$ref": "#/definitions/X", "description": "d"},
                    "items": {"items": {"$ref": "#/definitions/Y"}},
                }
            })
        );
    }
}
