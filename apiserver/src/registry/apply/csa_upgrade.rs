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
