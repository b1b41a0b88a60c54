//! Field ownership for server-side apply: who owns what after manager M applies a
//! configuration, whether that conflicts, and which fields M stopped applying go away.
//!
//! With `live` (managedFields included) and the applied `config`:
//! 1. the result is `live` with `config` merged in ([`super::merge`]);
//! 2. M's applied set is every field of `config` (lists as the schema declares them);
//! 3. fields of that set the merge changes and another manager owns are conflicts: the apply
//!    fails naming them all, unless forced, in which case the other managers lose them;
//!    managers owning a field M sets to the value it has share it;
//! 4. fields M applied last time but not now are removed from the result when no other
//!    manager owns them (or anything under them);
//! 5. M's `Apply` entry (per subresource) holds exactly the applied set; managers left with no
//!    fields are dropped.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
use serde_json::Value;

use super::csa_upgrade;
use super::merge::{merge, remove_path};
use crate::registry::field_set::{FieldSet, display_path};
use crate::registry::managed_fields::{entries_of, fields_of, set_entries, sort_entries};
use crate::registry::params::Subresource;
use crate::registry::schema_node::SchemaNode;

const APPLY: &str = "Apply";

/// Who applies, and how.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Applier<'a> {
    /// `fieldManager`.
    pub manager: &'a str,
    /// The request's `apiVersion`, e.g. `apps.kruise.io/v1alpha1`.
    pub api_version: &'a str,
    pub subresource: Subresource,
    /// `force=true`.
    pub force: bool,
    /// The schema of the object, for list semantics.
    pub schema: SchemaNode,
}

impl Applier<'_> {
    fn owns(&self, entry: &ManagedFieldsEntry) -> bool {
        entry.manager.as_deref().unwrap_or_default() == self.manager
            && entry.operation.as_deref() == Some(APPLY)
            && entry.subresource.as_deref().unwrap_or_default() == self.subresource.as_str()
    }
}

/// Fields another manager owns that the apply would change: `(manager, path)` as printed,
/// and the paths themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conflicts(pub Vec<(String, String)>, pub FieldSet);

impl Conflicts {
    /// kube-apiserver's message: `Apply failed with 1 conflict: conflict with "m": .spec.x`,
    /// or, for several, one `conflicts with "m":` block per manager (sorted) listing paths.
    pub(crate) fn message(&self) -> String {
        if let [(manager, path)] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut managers: Vec<&String> = self.0.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for (_, path) in self.0.iter().filter(|(m, _)| m == manager) {
                lines.push(format!("- {path}"));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

/// A manager as kube-apiserver names it in conflicts: `"name"`, plus ` with subresource "s"`,
/// plus ` using <apiVersion> at <time>` for Update managers.
fn describe(entry: &ManagedFieldsEntry) -> String {
    let mut text = format!("{:?}", entry.manager.as_deref().unwrap_or_default());
    if let Some(sub) = entry.subresource.as_deref().filter(|s| !s.is_empty()) {
        text.push_str(&format!(" with subresource {sub:?}"));
    }
    if entry.operation.as_deref() != Some(APPLY) {
        let version = entry.api_version.as_deref().unwrap_or_default();
        match &entry.time {
            Some(time) => text.push_str(&format!(" using {version} at {}", time.0)),
            None => text.push_str(&format!(" using {version}")),
        }
    }
    text
}

/// Whether `path` is a key field of a map-list element (`...k:{"tag":"x"}.f:tag`), which goes
/// only with its element.
fn is_element_key(path: &[String]) -> bool {
    let [.., parent, last] = path else {
        return false;
    };
    let (Some(keys), Some(field)) = (parent.strip_prefix("k:"), last.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Map<String, Value>>(keys)
        .is_ok_and(|keys| keys.contains_key(field))
}

/// The object after `applier` applies `config` to `live` (`{}` when creating), with its
/// managedFields; or the conflicts that stop it. Conflicts only with fields client-side apply
/// set are forgiven to `kubectl` ([`csa_upgrade`]).
pub(crate) fn apply(
    live: &Value,
    config: &Value,
    applier: &Applier<'_>,
    now: &Time,
) -> Result<Value, Conflicts> {
    let mut result = match apply_once(live, config, applier, now) {
        Err(conflicts) if csa_upgrade::forgives(live, applier, &conflicts.1) => {
            let forced = Applier {
                force: true,
                ..*applier
            };
            apply_once(live, config, &forced, now)
        }
        other => other,
    }?;
    csa_upgrade::update_last_applied(&mut result, config, applier);
    Ok(result)
}

fn apply_once(
    live: &Value,
    config: &Value,
    applier: &Applier<'_>,
    now: &Time,
) -> Result<Value, Conflicts> {
    let mut entries: Vec<ManagedFieldsEntry> = live
        .pointer("/metadata/managedFields")
        .cloned()
        .map(entries_of)
        .unwrap_or_default();
    let applied = FieldSet::applied(config, applier.subresource, applier.schema);
    let mut merged = live.clone();
    merge(&mut merged, config, applier.schema);
    let changed = FieldSet::changed(&applied, &merged, Some(live));

    let mut conflicts = Vec::new();
    let mut conflicting = FieldSet::default();
    for entry in entries.iter_mut().filter(|e| !applier.owns(e)) {
        let owned = fields_of(entry);
        let overlap = owned.intersection(&changed);
        if overlap.is_empty() {
            continue;
        }
        if applier.force {
            entry.fields_v1 = Some(FieldsV1(owned.difference(&overlap).to_fields_v1()));
        } else {
            let who = describe(entry);
            conflicts.extend(overlap.paths().map(|p| (who.clone(), display_path(p))));
            conflicting = conflicting.union(&overlap);
        }
    }
    if !conflicts.is_empty() {
        return Err(Conflicts(conflicts, conflicting));
    }

    let previous_entry = entries.iter().find(|e| applier.owns(e)).cloned();
    let previous = previous_entry
        .as_ref()
        .map_or_else(FieldSet::default, fields_of);
    let others = entries
        .iter()
        .filter(|e| !applier.owns(e))
        .fold(FieldSet::default(), |all, e| all.union(&fields_of(e)));
    // Outermost first: a removed element takes its fields with it. What some manager (the
    // applier too) still sets stays: anything at or under the path, and values owned whole by
    // an ancestor (an atomic list or map), as structured-merge-diff adds owned leaves back.
    // Found by fuzzing: a stale element path under a list now applied atomically emptied the
    // list just applied.
    let dropped = previous.difference(&applied);
    let owned = others.union(&applied);
    for path in dropped.paths() {
        let owned_whole_above = (1..path.len()).any(|n| owned.has_leaf(&path[..n].to_vec()));
        if !owned.covers(path) && !owned_whole_above && !is_element_key(path) {
            remove_path(&mut merged, path);
        }
    }

    entries.retain(|e| !applier.owns(e));
    if !applied.is_empty() {
        let time = match previous_entry {
            Some(entry) if previous == applied => entry.time.unwrap_or_else(|| now.clone()),
            _ => now.clone(),
        };
        entries.push(ManagedFieldsEntry {
            api_version: Some(applier.api_version.to_owned()),
            fields_type: Some("FieldsV1".to_owned()),
            fields_v1: Some(FieldsV1(applied.to_fields_v1())),
            manager: Some(applier.manager.to_owned()),
            operation: Some(APPLY.to_owned()),
            subresource: Some(applier.subresource.as_str().to_owned()).filter(|s| !s.is_empty()),
            time: Some(time),
        });
    }
    entries.retain(|entry| !fields_of(entry).is_empty());
    sort_entries(&mut entries);
    set_entries(&mut merged, entries);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use prepull_api::{ApiVersion, Kind};
    use serde_json::json;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    fn applier(manager: &str) -> Applier<'_> {
        Applier {
            manager,
            api_version: "apps.kruise.io/v1alpha1",
            subresource: Subresource::Main,
            force: false,
            schema: SchemaNode::root(Kind::ImagePullJob, ApiVersion::V1alpha1),
        }
    }

    fn config(spec: Value) -> Value {
        json!({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
               "metadata": {"name": "j"}, "spec": spec})
    }

    #[test]
    fn a_second_manager_changing_a_field_conflicts_and_force_takes_it() {
        let first = apply(
            &json!({}),
            &config(json!({"image": "nginx", "parallelism": 2})),
            &applier("a"),
            &at(1),
        )
        .unwrap();
        let err = apply(
            &first,
            &config(json!({"image": "nginx", "parallelism": 5})),
            &applier("b"),
            &at(2),
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.parallelism"
        );
        let forced = apply(
            &first,
            &config(json!({"image": "nginx", "parallelism": 5})),
            &Applier {
                force: true,
                ..applier("b")
            },
            &at(2),
        )
        .unwrap();
        assert_eq!(forced["spec"]["parallelism"], 5);
        let entries = forced["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:image": {}}}),
            "a keeps the image it shares with b"
        );
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:image": {}, "f:parallelism": {}}})
        );
        assert_eq!(entries[1]["manager"], "b");
        assert_eq!(entries[1]["operation"], "Apply");
    }

    #[test]
    fn a_field_the_manager_now_sets_inside_what_it_owned_whole_stays() {
        // Found by fuzzing: dropping the old, coarser path removed the value just applied.
        let live = json!({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": "j", "managedFields": [{"manager": "a", "operation": "Apply",
                "apiVersion": "apps.kruise.io/v1alpha1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:pullPolicy": {}}}}]},
            "spec": {"image": "nginx", "pullPolicy": {"backoffLimit": 1}}});
        let result = apply(
            &live,
            &config(json!({"pullPolicy": {"backoffLimit": 3}})),
            &applier("a"),
            &at(2),
        )
        .unwrap();
        assert_eq!(result["spec"]["pullPolicy"], json!({"backoffLimit": 3}));
        assert_eq!(result["spec"]["image"], "nginx");
    }

    #[test]
    fn a_configuration_without_metadata_still_records_its_manager() {
        // Found by fuzzing: the entry had nowhere to go, so a created object owned nothing.
        let created = apply(
            &json!({}),
            &json!({"spec": {"image": "nginx"}}),
            &applier("a"),
            &at(1),
        )
        .unwrap();
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:spec": {"f:image": {}}})
        );
    }

    #[test]
    fn fields_a_manager_stops_applying_are_removed_unless_someone_else_owns_them() {
        let first = apply(
            &json!({}),
            &config(json!({"image": "nginx", "parallelism": 2, "pullSecrets": ["s"]})),
            &applier("a"),
            &at(1),
        )
        .unwrap();
        let shared = apply(
            &first,
            &config(json!({"pullSecrets": ["s"]})),
            &applier("b"),
            &at(2),
        )
        .unwrap();
        let second = apply(
            &shared,
            &config(json!({"image": "nginx"})),
            &applier("a"),
            &at(3),
        )
        .unwrap();
        assert_eq!(
            second["spec"],
            json!({"image": "nginx", "pullSecrets": ["s"]})
        );
    }

    #[test]
    fn several_conflicts_are_listed_per_manager() {
        let conflicts = Conflicts(
            vec![
                ("\"b\"".into(), ".spec.x".into()),
                ("\"a\"".into(), ".spec.y".into()),
                ("\"b\"".into(), ".spec.z".into()),
            ],
            FieldSet::default(),
        );
        assert_eq!(
            conflicts.message(),
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.y\nconflicts with \"b\":\n- .spec.x\n- .spec.z"
        );
    }
}
