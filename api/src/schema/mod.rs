//! OpenAPI schemas of the three kinds and their lists, generated from the Rust types.
//!
//! The API server serves [`components`] in `/openapi/v2` (as `definitions`) and
//! `/openapi/v3/apis/apps.kruise.io/<version>` (as `components.schemas`); `kubectl explain`
//! prints the descriptions, which come from the types' doc comments. [`crate::strict`] walks
//! the same schemas to find unknown fields, so the schema is the single description of the wire
//! format. Schemas are built once per version and cached.

mod generate;
mod structural;

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::group::{ApiVersion, Kind};

/// Definition name of `ObjectMeta`, shared with every Kubernetes API.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Definition name of `ListMeta`, shared with every Kubernetes API.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

const V3_REF_PREFIX: &str = "#/components/schemas/";
const V2_REF_PREFIX: &str = "#/definitions/";

/// How references between definitions are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefStyle {
    /// Swagger 2.0 (`/openapi/v2`): `{"$ref": "#/definitions/NAME", ...}`.
    OpenApiV2,
    /// OpenAPI 3.0 (`/openapi/v3`): `{"$ref": "#/components/schemas/NAME"}`; a reference with
    /// sibling keys is wrapped as `{"allOf": [{"$ref": ...}], ...}`, as kube-apiserver does.
    OpenApiV3,
}

/// Definition name of a kind in a version, in kube-apiserver's CRD naming (reversed group):
/// `io.kruise.apps.v1alpha1.ImagePullJob`.
pub fn definition_name(kind: Kind, version: ApiVersion) -> String {
    format!("io.kruise.apps.{}.{}", version.as_str(), kind.info().name)
}

/// Definition name of a kind's list, e.g. `io.kruise.apps.v1alpha1.ImagePullJobList`.
pub fn list_definition_name(kind: Kind, version: ApiVersion) -> String {
    format!(
        "io.kruise.apps.{}.{}",
        version.as_str(),
        kind.info().list_name
    )
}

static COMPONENTS: LazyLock<[Map<String, Value>; 2]> =
    LazyLock::new(|| ApiVersion::ALL.map(generate::build_components));

/// The definitions describing `version`, keyed by definition name: the three kinds, their
/// lists (both tagged with `x-kubernetes-group-version-kind`), `ObjectMeta`, `ListMeta` and
/// the meta types they use. Refs are written in `style`.
pub fn components(version: ApiVersion, style: RefStyle) -> Map<String, Value> {
    let mut map = canonical(version).clone();
    if style == RefStyle::OpenApiV2 {
        map.values_mut().for_each(to_v2_refs);
    }
    map
}

/// The cached v3-style components of `version`.
pub(crate) fn canonical(version: ApiVersion) -> &'static Map<String, Value> {
    match version {
        ApiVersion::V1alpha1 => &COMPONENTS[0],
        ApiVersion::V1beta1 => &COMPONENTS[1],
    }
}

/// The schema that `schema` stands for: follows a `$ref`, or a single-ref `allOf`, to its
/// definition in `components` (v3 refs). Returns `schema` itself when it is not a reference,
/// and `None` for a reference to a missing definition.
pub fn resolve<'a>(components: &'a Map<String, Value>, schema: &'a Value) -> Option<&'a Value> {
    let reference = schema.get("$ref").or_else(|| match schema.get("allOf") {
        Some(Value::Array(all)) if all.len() == 1 => all[0].get("$ref"),
        _ => None,
    });
    match reference.and_then(Value::as_str) {
        Some(r) => components.get(r.strip_prefix(V3_REF_PREFIX)?),
        None => Some(schema),
    }
}

/// Rewrites OpenAPI v3 references (`#/components/schemas/X`) to Swagger 2.0 ones
/// (`#/definitions/X`); a reference wrapped in a one-element `allOf` (the v3 way to give a
/// reference a description) becomes a plain `$ref` with siblings, as Swagger 2.0 tools expect.
pub fn to_v2_refs(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(all)) = object.get("allOf")
                && let [only] = all.as_slice()
                && let Some(reference) = only.get("$ref").cloned()
            {
                object.remove("allOf");
                object.insert("$ref".into(), reference);
            }
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(name) = reference.strip_prefix(V3_REF_PREFIX)
            {
                *reference = format!("{V2_REF_PREFIX}{name}");
            }
            object.values_mut().for_each(to_v2_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v2_refs),
        _ => {}
    }
}
