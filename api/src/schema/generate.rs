//! Builds the OpenAPI component map of one served version from the Rust types.
//!
//! Shape, matching what kube-apiserver publishes for a CRD: each kind and list is one
//! definition with everything inlined except `metadata`, which refers to the shared
//! `ObjectMeta`/`ListMeta` definitions (also included, with the list and merge extensions
//! kube-apiserver declares for them). Refs use the OpenAPI v3 form here; see
//! [`super::RefStyle`] for v2.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::structural::make_structural;
use super::{LIST_META, OBJECT_META, V3_REF_PREFIX, definition_name, list_definition_name};
use crate::group::{ApiVersion, GROUP, Kind};
use crate::image_list_pull_job::{ImageListPullJob, ImageListPullJobList};
use crate::image_pull_job::{ImagePullJob, ImagePullJobList};
use crate::node_image::{NodeImage, NodeImageList};

/// Where `mode` sits in the NodeImage schema; v1alpha1 does not serve it.
const NODE_IMAGE_SECRET_MODE: &str = "/properties/spec/properties/images/additionalProperties/properties/pullSecrets/items/properties";

/// All definitions needed to describe `version`: three kinds, three lists, and the meta types.
pub(crate) fn build_components(version: ApiVersion) -> Map<String, Value> {
    let mut components = Map::new();
    for kind in Kind::ALL {
        let (object, list) = match kind {
            Kind::ImagePullJob => (
                inline_schema::<ImagePullJob>(),
                inline_schema::<ImagePullJobList>(),
            ),
            Kind::ImageListPullJob => (
                inline_schema::<ImageListPullJob>(),
                inline_schema::<ImageListPullJobList>(),
            ),
            Kind::NodeImage => (
                inline_schema::<NodeImage>(),
                inline_schema::<NodeImageList>(),
            ),
        };
        let mut object = finish_kind(object, kind, version, false);
        if kind == Kind::NodeImage
            && version == ApiVersion::V1alpha1
            && let Some(Value::Object(props)) = object.pointer_mut(NODE_IMAGE_SECRET_MODE)
        {
            props.remove("mode");
        }
        components.insert(definition_name(kind, version), object);
        components.insert(
            list_definition_name(kind, version),
            finish_kind(list, kind, version, true),
        );
    }
    components.extend(meta_definitions());
    components
}

/// The type's schema with every sub-schema inlined, in structural form.
fn inline_schema<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::openapi3().with(|s| s.inline_subschemas = true);
    let mut schema = settings.into_generator().root_schema_for::<T>().to_value();
    make_structural(&mut schema);
    schema
}

/// Points `metadata` (and a list's `items`) at shared definitions and tags the schema with
/// its group/version/kind, which is how kubectl finds it.
fn finish_kind(mut schema: Value, kind: Kind, version: ApiVersion, list: bool) -> Value {
    let info = kind.info();
    let meta_name = if list { LIST_META } else { OBJECT_META };
    if let Some(metadata) = schema.pointer_mut("/properties/metadata") {
        let description = metadata.get("description").cloned().unwrap_or(Value::Null);
        *metadata = json!({
            "description": description,
            "allOf": [{"$ref": format!("{V3_REF_PREFIX}{meta_name}")}],
        });
    }
    if list && let Some(items) = schema.pointer_mut("/properties/items/items") {
        *items = json!({"$ref": format!("{V3_REF_PREFIX}{}", definition_name(kind, version))});
    }
    let kind_name = if list { info.list_name } else { info.name };
    schema["x-kubernetes-group-version-kind"] = json!([{
        "group": GROUP,
        "kind": kind_name,
        "version": version.as_str(),
    }]);
    schema
}

/// `ObjectMeta`, `ListMeta` and what they refer to, with the list semantics kube-apiserver
/// declares (k8s-openapi's schemas omit them, and server-side apply needs them).
fn meta_definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<ObjectMeta>();
    generator.subschema_for::<ListMeta>();
    let mut definitions = generator.take_definitions(true);
    for schema in definitions.values_mut() {
        make_structural(schema);
    }
    if let Some(Value::Object(props)) = definitions
        .get_mut(OBJECT_META)
        .and_then(|m| m.get_mut("properties"))
    {
        extend(
            props,
            "finalizers",
            json!({
                "x-kubernetes-list-type": "set",
                "x-kubernetes-patch-strategy": "merge",
            }),
        );
        extend(
            props,
            "ownerReferences",
            json!({
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-patch-merge-key": "uid",
                "x-kubernetes-patch-strategy": "merge",
            }),
        );
        extend(
            props,
            "managedFields",
            json!({"x-kubernetes-list-type": "atomic"}),
        );
    }
    if let Some(owner) = definitions.get_mut("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference")
    {
        owner["x-kubernetes-map-type"] = json!("atomic");
    }
    definitions
}

fn extend(properties: &mut Map<String, Value>, field: &str, extensions: Value) {
    if let (Some(Value::Object(target)), Value::Object(extra)) =
        (properties.get_mut(field), extensions)
    {
        target.extend(extra);
    }
}
