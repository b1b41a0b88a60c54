//! OpenAPI 3.0 documents: one per served group-version (what `kubectl explain` and kubectl's
//! field-validation and patch-type checks read), and the `/openapi/v3` root that lists them.

use prepull_api::group::{ApiVersion, GROUP};
use prepull_api::schema::{RefStyle, components};
use serde_json::{Map, Value, json};

use super::meta_schemas;
use super::operations::{self, Operation, PathItem, RESPONSE_CONTENT_TYPES};
use super::parameters::{PRETTY, QueryParam};

const REF_PREFIX: &str = "#/components/schemas/";

/// The key of `version`'s document in the root, e.g. `apis/apps.kruise.io/v1alpha1`.
pub fn document_key(version: ApiVersion) -> String {
    format!("apis/{GROUP}/{}", version.as_str())
}

/// The root document: where each group-version document is, with its content hash so clients
/// may cache the document forever under that URL.
pub fn root(documents: &[(ApiVersion, &str)]) -> Value {
    let paths: Map<String, Value> = documents
        .iter()
        .map(|(version, hash)| {
            let key = document_key(*version);
            let url = format!("/openapi/v3/{key}?hash={hash}");
            (key, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// The document of one group-version.
pub fn document(version: ApiVersion) -> Value {
    let mut schemas = components(version, RefStyle::OpenApiV3);
    for (name, schema) in meta_schemas::definitions() {
        // Our own ObjectMeta/ListMeta (with list-type extensions) win over the generated ones.
        schemas.entry(name).or_insert(schema);
    }
    let paths: Map<String, Value> = operations::paths(version)
        .iter()
        .map(|item| (item.path.clone(), path_item(item, version)))
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": {
            "title": "Prepull apps.kruise.io",
            "version": concat!("v", env!("CARGO_PKG_VERSION")),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn path_item(item: &PathItem, version: ApiVersion) -> Value {
    let mut object = Map::new();
    let tag = operations::tag(version);
    for operation in &item.operations {
        object.insert(
            operation.action.method().into(),
            self::operation(operation, item, version, &tag),
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
                "content": content(RESPONSE_CONTENT_TYPES, &response.schema),
            }),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let parameters: Vec<Value> = operation.query.iter().map(query_param).collect();
    let mut object = json!({
        "tags": [tag],
        "description": operation.description,
        "operationId": operation.id,
        "parameters": parameters,
        "responses": responses,
        "x-kubernetes-action": operation.action.as_str(),
        "x-kubernetes-group-version-kind": {
            "group": GROUP,
            "version": version.as_str(),
            "kind": item.kind.info().name,
        },
    });
    if let Some(body) = &operation.body {
        object["requestBody"] = json!({
            "content": content(body.content_types, &body.schema),
            "required": body.required,
        });
    }
    object
}

fn content(media_types: &[&str], schema: &str) -> Value {
    let reference = json!({"schema": {"$ref": format!("{REF_PREFIX}{schema}")}});
    media_types
        .iter()
        .map(|media_type| (media_type.to_string(), reference.clone()))
        .collect::<Map<String, Value>>()
        .into()
}

fn query_param(param: &QueryParam) -> Value {
    json!({
        "name": param.name,
        "in": "query",
        "description": param.description,
        "schema": {"type": param.type_.as_str()},
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": {"type": "string"},
    })
}
