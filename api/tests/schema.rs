//! The published OpenAPI schemas describe every field the types write, carry the extensions
//! kubectl and server-side apply read, and are valid in both ref styles.

mod fixtures;

use serde_json::{Map, Value};

use prepull_api::schema::{
    LIST_META, OBJECT_META, RefStyle, components, definition_name, list_definition_name, resolve,
};
use prepull_api::{ApiVersion, Kind};

fn kind_schema(kind: Kind, version: ApiVersion) -> (Map<String, Value>, Value) {
    let components = components(version, RefStyle::OpenApiV3);
    let schema = components[&definition_name(kind, version)].clone();
    (components, schema)
}

/// Collects the paths of keys in `value` the schema does not describe.
fn undescribed(
    components: &Map<String, Value>,
    schema: &Value,
    value: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let schema = resolve(components, schema).expect("refs resolve");
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            if properties.is_none() && additional.is_none() {
                return;
            }
            for (key, member) in object {
                let child = format!("{path}.{key}");
                match properties.and_then(|p| p.get(key)).or(additional) {
                    Some(sub) => undescribed(components, sub, member, &child, out),
                    None => out.push(child),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                undescribed(
                    components,
                    &schema["items"],
                    item,
                    &format!("{path}[{i}]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_of_a_full_object_appears_in_the_v1beta1_schema() {
    for (kind, fixture) in [
        (Kind::ImagePullJob, "full-image-pull-job.json"),
        (Kind::ImageListPullJob, "full-image-list-pull-job.json"),
        (Kind::NodeImage, "full-node-image.json"),
    ] {
        let (components, schema) = kind_schema(kind, ApiVersion::V1beta1);
        let mut missing = Vec::new();
        undescribed(
            &components,
            &schema,
            &fixtures::value(fixture),
            "",
            &mut missing,
        );
        assert_eq!(missing, Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn the_v1alpha1_node_image_schema_has_no_pull_secret_mode_and_v1beta1_has_it() {
    let pointer = "/properties/spec/properties/images/additionalProperties/properties/pullSecrets/items/properties/mode";
    assert!(
        kind_schema(Kind::NodeImage, ApiVersion::V1alpha1)
            .1
            .pointer(pointer)
            .is_none()
    );
    assert!(
        kind_schema(Kind::NodeImage, ApiVersion::V1beta1)
            .1
            .pointer(pointer)
            .is_some()
    );
}

#[test]
fn each_kind_and_list_is_tagged_with_its_group_version_kind_in_both_versions() {
    for version in ApiVersion::ALL {
        let components = components(version, RefStyle::OpenApiV3);
        for kind in Kind::ALL {
            for (name, kind_name) in [
                (definition_name(kind, version), kind.info().name),
                (list_definition_name(kind, version), kind.info().list_name),
            ] {
                let gvk = &components[&name]["x-kubernetes-group-version-kind"];
                assert_eq!(
                    gvk,
                    &serde_json::json!([{"group": "apps.kruise.io", "kind": kind_name, "version": version.as_str()}]),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn definitions_are_named_like_kube_apiserver_names_custom_resources() {
    assert_eq!(
        definition_name(Kind::ImagePullJob, ApiVersion::V1alpha1),
        "io.kruise.apps.v1alpha1.ImagePullJob"
    );
    assert_eq!(
        list_definition_name(Kind::NodeImage, ApiVersion::V1beta1),
        "io.kruise.apps.v1beta1.NodeImageList"
    );
}

#[test]
fn parallelism_is_int_or_string_in_both_jobs() {
    for kind in [Kind::ImagePullJob, Kind::ImageListPullJob] {
        let (_, schema) = kind_schema(kind, ApiVersion::V1alpha1);
        let parallelism = schema
            .pointer("/properties/spec/properties/parallelism")
            .unwrap();
        assert_eq!(parallelism["x-kubernetes-int-or-string"], true);
        assert!(parallelism.get("type").is_none());
        assert!(
            parallelism["description"]
                .as_str()
                .unwrap()
                .contains("Defaults to 1")
        );
    }
}

#[test]
fn metadata_refers_to_object_meta_and_lists_to_list_meta() {
    let components = components(ApiVersion::V1alpha1, RefStyle::OpenApiV3);
    let (_, job) = kind_schema(Kind::ImagePullJob, ApiVersion::V1alpha1);
    assert_eq!(
        job["properties"]["metadata"]["allOf"][0]["$ref"],
        format!("#/components/schemas/{OBJECT_META}")
    );
    let list = &components[&list_definition_name(Kind::ImagePullJob, ApiVersion::V1alpha1)];
    assert_eq!(
        list["properties"]["metadata"]["allOf"][0]["$ref"],
        format!("#/components/schemas/{LIST_META}")
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.kruise.apps.v1alpha1.ImagePullJob"
    );
    assert!(components.contains_key(OBJECT_META) && components.contains_key(LIST_META));
    let owner_refs = &components[OBJECT_META]["properties"]["ownerReferences"];
    assert_eq!(owner_refs["x-kubernetes-patch-merge-key"], "uid");
    assert_eq!(
        owner_refs["x-kubernetes-list-map-keys"],
        serde_json::json!(["uid"])
    );
}

#[test]
fn every_ref_resolves_in_both_ref_styles() {
    for (style, prefix) in [
        (RefStyle::OpenApiV3, "#/components/schemas/"),
        (RefStyle::OpenApiV2, "#/definitions/"),
    ] {
        for version in ApiVersion::ALL {
            let components = components(version, style);
            let text = serde_json::to_string(&components).unwrap();
            let refs: Vec<&str> = text
                .split("\"$ref\":\"")
                .skip(1)
                .map(|rest| &rest[..rest.find('"').unwrap()])
                .collect();
            assert!(!refs.is_empty());
            for reference in refs {
                let name = reference
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("{reference} in {style:?}"));
                assert!(components.contains_key(name), "{reference} dangles");
            }
        }
    }
}

#[test]
fn v2_refs_keep_their_sibling_description_without_all_of() {
    let components = components(ApiVersion::V1alpha1, RefStyle::OpenApiV2);
    let metadata = &components["io.kruise.apps.v1alpha1.ImagePullJob"]["properties"]["metadata"];
    assert_eq!(metadata["$ref"], format!("#/definitions/{OBJECT_META}"));
    assert!(metadata.get("allOf").is_none());
    assert!(
        metadata["description"]
            .as_str()
            .unwrap()
            .starts_with("Standard object's metadata")
    );
}

#[test]
fn list_semantics_are_declared_for_tags_pull_secrets_and_failed_nodes() {
    let (_, node) = kind_schema(Kind::NodeImage, ApiVersion::V1beta1);
    let image = node
        .pointer("/properties/spec/properties/images/additionalProperties/properties")
        .unwrap();
    assert_eq!(image["tags"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        image["tags"]["x-kubernetes-list-map-keys"],
        serde_json::json!(["tag"])
    );
    assert_eq!(image["tags"]["x-kubernetes-patch-merge-key"], "tag");
    assert_eq!(image["tags"]["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        image["pullSecrets"]["x-kubernetes-list-map-keys"],
        serde_json::json!(["namespace", "name"])
    );
    let status_tags = node
        .pointer("/properties/status/properties/imageStatuses/additionalProperties/properties/tags")
        .unwrap();
    assert_eq!(
        status_tags["x-kubernetes-list-map-keys"],
        serde_json::json!(["tag"])
    );
    let (_, job) = kind_schema(Kind::ImagePullJob, ApiVersion::V1alpha1);
    assert_eq!(
        job.pointer("/properties/status/properties/failedNodes/x-kubernetes-list-type")
            .unwrap(),
        "set"
    );
    assert_eq!(
        job.pointer("/properties/status/properties/conditions/x-kubernetes-list-map-keys")
            .unwrap(),
        &serde_json::json!(["type"])
    );
}

#[test]
fn the_schema_has_no_constructs_kubernetes_structural_schemas_forbid() {
    let text =
        serde_json::to_string(&components(ApiVersion::V1beta1, RefStyle::OpenApiV3)).unwrap();
    for forbidden in [
        "\"nullable\"",
        "\"anyOf\"",
        "\"oneOf\"",
        "\"$schema\"",
        "\"title\"",
        "\"default\":",
        "null]",
    ] {
        assert!(!text.contains(forbidden), "{forbidden} found");
    }
}

/// Walks every property of our kinds (not the shared meta types) and reports those without a
/// description, which `kubectl explain` would print blank.
fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let child = format!("{path}.{name}");
            if property
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(child.clone());
            }
            undocumented(property, &child, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = schema.get(key) {
            undocumented(sub, path, out);
        }
    }
}

#[test]
fn every_field_of_every_kind_has_a_description_for_kubectl_explain() {
    for version in ApiVersion::ALL {
        for kind in Kind::ALL {
            let (_, schema) = kind_schema(kind, version);
            let mut missing = Vec::new();
            undocumented(&schema, kind.info().singular, &mut missing);
            // matchExpressions' items come from k8s-openapi and are documented there.
            missing.retain(|p| !p.contains("matchExpressions."));
            assert_eq!(missing, Vec::<String>::new());
        }
    }
}

#[test]
fn the_completion_policy_description_is_one_readable_paragraph() {
    let (_, schema) = kind_schema(Kind::ImagePullJob, ApiVersion::V1alpha1);
    let policy = schema
        .pointer("/properties/spec/properties/completionPolicy")
        .unwrap();
    assert_eq!(
        policy["description"],
        "When the job finishes and is cleaned up. Defaults to type Always."
    );
    let type_ = &policy["properties"]["type"];
    assert_eq!(type_["enum"], serde_json::json!(["Always", "Never"]));
    assert!(!type_["description"].as_str().unwrap().contains('\n'));
}
