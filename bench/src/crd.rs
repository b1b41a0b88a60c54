//! The three kinds as CustomResourceDefinitions: what OpenKruise installs in kube-apiserver,
//! the alternative Prepull is measured against.
//!
//! Written from our own description of the API, so both sides serve the same shape: the
//! OpenAPI schemas Prepull serves ([`prepull_api::schema`]) inlined into structural
//! `openAPIV3Schema`s, the printer columns of [`prepull_api::columns`], and the status
//! subresource. Both versions are served; v1alpha1 is stored.

use prepull_api::columns::printer_columns;
use prepull_api::schema::{OBJECT_META, RefStyle, components, definition_name, resolve};
use prepull_api::{ApiVersion, GROUP, Kind};
use serde_json::{Map, Value, json};

/// Schema keywords a CRD's `JSONSchemaProps` accepts (others are dropped).
const CRD_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "description",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "default",
    "nullable",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
];

/// The CustomResourceDefinition of `kind`, as JSON.
pub fn definition(kind: Kind) -> Value {
    let info = kind.info();
    let versions: Vec<Value> = ApiVersion::ALL
        .into_iter()
        .map(|version| {
            json!({
                "name": version.as_str(),
                "served": true,
                "storage": version == ApiVersion::ALL[0],
                "schema": {"openAPIV3Schema": schema(kind, version)},
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns(kind),
            })
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{GROUP}", info.plural)},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.name,
                "listKind": info.list_name,
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": info.short_names,
                "categories": info.categories,
            },
            "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
            "versions": versions,
        }
    })
}

/// The structural schema of `kind` in `version`: every reference inlined, `metadata` an
/// opaque object (kube-apiserver validates it itself).
fn schema(kind: Kind, version: ApiVersion) -> Value {
    let defs = components(version, RefStyle::OpenApiV3);
    let root = defs
        .get(&definition_name(kind, version))
        .expect("every kind has a definition");
    let mut schema = inline(root, &defs);
    // kube-apiserver allows nothing else here: it validates metadata itself.
    schema["properties"]["metadata"] = json!({"type": "object"});
    schema
}

fn inline(schema: &Value, defs: &Map<String, Value>) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let object_meta = defs.get(OBJECT_META);
    let target = match resolve(defs, schema) {
        Some(resolved) if std::ptr::eq(resolved, schema) => None,
        Some(resolved) if object_meta.is_some_and(|meta| std::ptr::eq(meta, resolved)) => {
            Some(json!({"type": "object"}))
        }
        Some(resolved) => Some(inline(resolved, defs)),
        None => panic!("references resolve"),
    };
    let mut out = match target {
        Some(Value::Object(resolved)) => resolved,
        _ => Map::new(),
    };
    for (key, value) in object {
        if !CRD_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| (name.clone(), inline(property, defs)))
                    .collect(),
            ),
            "items" | "additionalProperties" if value.is_object() => inline(value, defs),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    require_list_map_keys(&mut out);
    Value::Object(out)
}

/// kube-apiserver requires the keys of a `map` list to be required (or defaulted) in its items.
fn require_list_map_keys(schema: &mut Map<String, Value>) {
    let Some(Value::Array(keys)) = schema.get("x-kubernetes-list-map-keys").cloned() else {
        return;
    };
    let Some(Value::Object(items)) = schema.get_mut("items") else {
        return;
    };
    let Value::Array(required) = items.entry("required").or_insert_with(|| json!([])) else {
        return;
    };
    for key in keys {
        if !required.contains(&key) {
            required.push(key);
        }
    }
}

fn columns(kind: Kind) -> Vec<Value> {
    printer_columns(kind)
        .iter()
        .filter(|column| column.format != "name")
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.type_,
                "jsonPath": column.json_path,
                "description": column.description,
                "priority": column.priority,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_key(value: &Value, key: &str) -> bool {
        match value {
            Value::Object(map) => map.contains_key(key) || map.values().any(|v| has_key(v, key)),
            Value::Array(items) => items.iter().any(|v| has_key(v, key)),
            _ => false,
        }
    }

    #[test]
    fn schemas_are_inlined_and_carry_only_crd_keywords() {
        for kind in Kind::ALL {
            let crd = definition(kind);
            assert!(!has_key(&crd, "$ref"), "{kind:?}");
            assert!(!has_key(&crd, "allOf"), "{kind:?}");
            assert!(
                !has_key(&crd, "x-kubernetes-group-version-kind"),
                "{kind:?}"
            );
            let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            assert_eq!(schema["properties"]["metadata"], json!({"type": "object"}));
            assert_eq!(schema["properties"]["spec"]["type"], "object");
        }
    }

    #[test]
    fn node_images_are_cluster_scoped_and_jobs_print_their_counters() {
        assert_eq!(definition(Kind::NodeImage)["spec"]["scope"], "Cluster");
        let job = definition(Kind::ImagePullJob);
        assert_eq!(job["spec"]["scope"], "Namespaced");
        let names: Vec<&str> = job["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"TOTAL"), "{names:?}");
        assert!(!names.contains(&"NAME"), "{names:?}");
    }
}
