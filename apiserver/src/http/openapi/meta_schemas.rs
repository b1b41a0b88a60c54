//! Definitions of the `meta/v1` request and response types the operations mention besides our
//! kinds (which [`prepull_api::schema::components`] provides): `Status`, `DeleteOptions` and
//! `Patch`, generated from k8s-openapi's types so their descriptions are Kubernetes' own.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Definition name of `Status`.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// Definition name of `DeleteOptions`.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// Definition name of the opaque PATCH body.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// `Status`, `DeleteOptions`, `Patch` and the definitions they refer to, keyed by name, with
/// OpenAPI v3 references (`#/components/schemas/...`).
pub fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Patch>();
    let mut definitions = generator.take_definitions(true);
    // k8s-openapi's Rust type makes Status.metadata mandatory; on the wire it is optional.
    if let Some(Value::Object(status)) = definitions.get_mut(STATUS) {
        status.remove("required");
    }
    definitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_schemas_and_their_dependencies_are_defined() {
        let definitions = definitions();
        for name in [
            STATUS,
            DELETE_OPTIONS,
            PATCH,
            "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions",
        ] {
            assert!(definitions.contains_key(name), "{name}");
        }
        assert!(definitions[STATUS].get("required").is_none());
        let text = serde_json::to_string(&definitions).unwrap();
        assert!(
            text.contains(
                "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails"
            )
        );
    }
}
