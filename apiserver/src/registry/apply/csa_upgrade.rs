//! Moving from client-side to server-side apply, as kube-apiserver does for manager
//! `kubectl` (other managers opt out by their name):
//!
//! - an apply whose every conflict is a field of the object's
//!   `kubectl.kubernetes.io/last-applied-configuration` (what client-side apply set) goes
//!   ahead as if forced: those fields were the same user's, applied the old way;
//! - when the result carries that annotation, it is rewritten to the configuration just
//!   applied, so a later client-side apply computes its patch from the right base.
//!
//! kubectl then moves the `kubectl-client-side-apply` manager's remaining fields to its apply
//! manager itself (a JSON patch of managedFields).

use serde_json::Value;

use super::ownership::Applier;
use crate::registry::field_set::FieldSet;

/// The annotation client-side `kubectl apply` keeps its last configuration in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The only manager the upgrade applies to.
const KUBECTL: &str = "kubectl";

fn last_applied(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()
}

/// Whether `conflicts` (paths) are all fields `live`'s last-applied configuration set.
pub(crate) fn forgives(live: &Value, applier: &Applier<'_>, conflicts: &FieldSet) -> bool {
    if applier.manager != KUBECTL {
        return false;
    }
    let Some(config) = last_applied(live).and_then(|text| serde_json::from_str(text).ok()) else {
        return false;
    };
    let allowed = FieldSet::of_object(&config, applier.subresource, applier.schema);
    conflicts.difference(&allowed).is_empty()
}

/// Rewrites `result`'s last-applied annotation (when it has one) to `config`.
pub(crate) fn update_last_applied(result: &mut Value, config: &Value, applier: &Applier<'_>) {
    if applier.manager != KUBECTL || last_applied(result).is_none() {
        return;
    }
    let mut applied = config.clone();
    if let Some(Value::Object(annotations)) = applied.pointer_mut("/metadata/annotations") {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty()
            && let Some(Value::Object(meta)) = applied.get_mut("metadata")
        {
            meta.remove("annotations");
        }
    }
    if let Some(Value::Object(annotations)) = result.pointer_mut("/metadata/annotations") {
        annotations.insert(LAST_APPLIED.into(), Value::String(applied.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use prepull_api::{ApiVersion, Kind};
    use serde_json::json;

    use super::super::ownership::{Applier, apply};
    use crate::registry::params::Subresource;
    use crate::registry::schema_node::SchemaNode;

    fn applier(manager: &str) -> Applier<'_> {
        Applier {
            manager,
            api_version: "apps.kruise.io/v1alpha1",
            subresource: Subresource::Main,
            force: false,
            schema: SchemaNode::root(Kind::ImagePullJob, ApiVersion::V1alpha1),
        }
    }

    /// A job written by client-side apply with parallelism 2.
    fn client_side_applied() -> serde_json::Value {
        let last = json!({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": "j"}, "spec": {"image": "nginx", "parallelism": 2}});
        json!({
            "metadata": {
                "name": "j",
                "annotations": {super::LAST_APPLIED: last.to_string()},
                "managedFields": [{
                    "apiVersion": "apps.kruise.io/v1alpha1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                                 "f:spec": {".": {}, "f:image": {}, "f:parallelism": {}}},
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "time": "2026-01-01T00:00:00Z"
                }]
            },
            "spec": {"image": "nginx", "parallelism": 2}
        })
    }

    #[test]
    fn kubectl_may_change_what_client_side_apply_set_and_the_annotation_follows() {
        let config = json!({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": "j"}, "spec": {"image": "nginx", "parallelism": 5}});
        let now = Time(Timestamp::from_second(10).unwrap());
        let result = apply(&client_side_applied(), &config, &applier("kubectl"), &now).unwrap();
        assert_eq!(result["spec"]["parallelism"], 5);
        let annotation = result["metadata"]["annotations"][super::LAST_APPLIED]
            .as_str()
            .unwrap();
        let recorded: serde_json::Value = serde_json::from_str(annotation).unwrap();
        assert_eq!(recorded, config);
        let other = apply(&client_side_applied(), &config, &applier("someone"), &now);
        assert!(other.is_err(), "only kubectl is forgiven");
    }
}
