//! `metadata.managedFields` for Update operations (create, update, patch): which manager set
//! which fields, as kube-apiserver's field manager records it.
//!
//! A write from `old` to `new` by manager M gives M the fields it set (new fields and changed
//! values) and takes them from every other manager; fields the write removed leave every
//! manager. M's entry is keyed by manager, operation `Update`, apiVersion and subresource; its
//! `time` moves only when its fields change, so a no-op write leaves the object unchanged.
//! Managers left with no fields are dropped. A body carrying `managedFields: [{}]` clears the
//! list. Server-side apply (operation `Apply`) is a later issue; its entries are kept and
//! lose fields like any other manager's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
use serde_json::Value;

use super::field_set::FieldSet;
use super::params::Subresource;
use super::schema_node::SchemaNode;

const UPDATE: &str = "Update";

/// How a write's managedFields are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recording {
    /// Create, update and the non-apply patches: [`record_update`] for the writer.
    Update,
    /// Server-side apply already computed the whole list (in the body): it is stored as given.
    AsGiven,
}

/// Who is writing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Manager<'a> {
    /// From `fieldManager` or the User-Agent.
    pub name: &'a str,
    /// The request's `apiVersion`, e.g. `apps.kruise.io/v1alpha1`.
    pub api_version: &'a str,
    pub subresource: Subresource,
    /// The schema of the stored objects, for list semantics.
    pub schema: SchemaNode,
}

impl Manager<'_> {
    fn owns(&self, entry: &ManagedFieldsEntry) -> bool {
        entry.manager.as_deref().unwrap_or_default() == self.name
            && entry.operation.as_deref() == Some(UPDATE)
            && entry.api_version.as_deref().unwrap_or_default() == self.api_version
            && entry.subresource.as_deref().unwrap_or_default() == self.subresource.as_str()
    }
}

/// Sets `new`'s `metadata.managedFields` for a write by `manager` replacing `old` (`None` for
/// a create). `incoming` is the list the request body carried: when non-empty it replaces the
/// stored list as the starting point (a list of empty entries resets it).
pub(crate) fn record_update(
    new: &mut Value,
    old: Option<&Value>,
    incoming: Option<Value>,
    manager: &Manager<'_>,
    now: &Time,
) {
    let incoming = incoming
        .map(entries_of)
        .filter(|entries| !entries.is_empty());
    let mut entries = match incoming {
        Some(entries) if entries.iter().all(|e| *e == ManagedFieldsEntry::default()) => {
            set_entries(new, Vec::new());
            return;
        }
        Some(entries) => entries,
        None => old
            .and_then(|old| old.pointer("/metadata/managedFields").cloned())
            .map(entries_of)
            .unwrap_or_default(),
    };

    let new_fields = FieldSet::of_object(new, manager.subresource, manager.schema);
    let old_fields = old.map_or_else(FieldSet::default, |old| {
        FieldSet::of_object(old, manager.subresource, manager.schema)
    });
    let changed = FieldSet::changed(&new_fields, new, old);
    let removed = old_fields.difference(&new_fields);
    let taken = changed.union(&removed);

    let mut mine = None;
    for entry in &mut entries {
        if manager.owns(entry) {
            mine = Some(fields_of(entry));
            entry.fields_v1 = None;
        } else {
            let kept = fields_of(entry).difference(&taken);
            entry.fields_v1 = Some(FieldsV1(kept.to_fields_v1()));
        }
    }
    let before = mine.clone().unwrap_or_default();
    let after = before.union(&changed).difference(&removed);
    entries.retain(|entry| !manager.owns(entry));
    if !after.is_empty() {
        let previous_time = old
            .and_then(|old| old.pointer("/metadata/managedFields"))
            .cloned()
            .map(entries_of)
            .and_then(|old_entries| old_entries.into_iter().find(|e| manager.owns(e)))
            .and_then(|e| e.time);
        let time = match previous_time {
            Some(time) if mine.is_some() && after == before => time,
            _ => now.clone(),
        };
        entries.push(ManagedFieldsEntry {
            api_version: Some(manager.api_version.to_owned()),
            fields_type: Some("FieldsV1".to_owned()),
            fields_v1: Some(FieldsV1(after.to_fields_v1())),
            manager: Some(manager.name.to_owned()),
            operation: Some(UPDATE.to_owned()),
            subresource: Some(manager.subresource.as_str().to_owned()).filter(|s| !s.is_empty()),
            time: Some(time),
        });
    }
    entries.retain(|entry| !fields_of(entry).is_empty());
    sort_entries(&mut entries);
    set_entries(new, entries);
}

pub(crate) fn entries_of(list: Value) -> Vec<ManagedFieldsEntry> {
    serde_json::from_value(list).unwrap_or_default()
}

pub(crate) fn fields_of(entry: &ManagedFieldsEntry) -> FieldSet {
    entry
        .fields_v1
        .as_ref()
        .map_or_else(FieldSet::default, |f| FieldSet::from_fields_v1(&f.0))
}

/// kube-apiserver's order: operation, time, manager, apiVersion, subresource.
pub(crate) fn sort_entries(entries: &mut [ManagedFieldsEntry]) {
    entries.sort_by(|a, b| {
        let key = |e: &ManagedFieldsEntry| {
            (
                e.operation.clone().unwrap_or_default(),
                e.time.as_ref().map_or(0, |t| t.0.as_second()),
                e.manager.clone().unwrap_or_default(),
                e.api_version.clone().unwrap_or_default(),
                e.subresource.clone().unwrap_or_default(),
            )
        };
        key(a).cmp(&key(b))
    });
}

pub(crate) fn set_entries(object: &mut Value, entries: Vec<ManagedFieldsEntry>) {
    // An apply configuration may leave `metadata` out; its entries still need a place.
    if !entries.is_empty()
        && let Value::Object(top) = object
    {
        let meta = top.entry("metadata").or_insert(Value::Null);
        if meta.is_null() {
            *meta = Value::Object(Default::default());
        }
    }
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        let list = serde_json::to_value(entries).expect("managedFields serialize");
        meta.insert("managedFields".into(), list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    fn manager(name: &str) -> Manager<'_> {
        Manager {
            name,
            api_version: "apps.kruise.io/v1alpha1",
            subresource: Subresource::Main,
            schema: SchemaNode::root(
                prepull_api::Kind::ImagePullJob,
                prepull_api::ApiVersion::V1alpha1,
            ),
        }
    }

    fn job(image: &str) -> Value {
        json!({"metadata": {"name": "j"}, "spec": {"image": image}, "status": {"desired": 0}})
    }

    #[test]
    fn a_create_gives_the_creator_every_field_it_set() {
        let mut new = job("nginx");
        record_update(&mut new, None, None, &manager("kubectl"), &at(10));
        assert_eq!(
            new["metadata"]["managedFields"],
            json!([{
                "apiVersion": "apps.kruise.io/v1alpha1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:image": {}}},
                "manager": "kubectl",
                "operation": "Update",
                "time": "1970-01-01T00:00:10Z"
            }])
        );
    }

    #[test]
    fn an_update_moves_changed_fields_to_the_writer() {
        let mut old = job("nginx");
        record_update(&mut old, None, None, &manager("kubectl"), &at(10));
        let mut new = old.clone();
        new["spec"]["image"] = json!("redis");
        record_update(&mut new, Some(&old), None, &manager("editor"), &at(20));
        let entries = new["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["manager"], "kubectl");
        assert_eq!(entries[0]["fieldsV1"], json!({"f:spec": {}}));
        assert_eq!(entries[1]["manager"], "editor");
        assert_eq!(entries[1]["fieldsV1"], json!({"f:spec": {"f:image": {}}}));
    }

    #[test]
    fn a_no_op_write_keeps_the_entry_and_its_time() {
        let mut old = job("nginx");
        record_update(&mut old, None, None, &manager("kubectl"), &at(10));
        let mut new = old.clone();
        record_update(&mut new, Some(&old), None, &manager("kubectl"), &at(99));
        assert_eq!(new, old);
    }

    #[test]
    fn status_writes_are_recorded_under_the_status_subresource() {
        let old = job("nginx");
        let mut new = old.clone();
        new["status"]["desired"] = json!(3);
        let status_writer = Manager {
            subresource: Subresource::Status,
            ..manager("controller")
        };
        record_update(&mut new, Some(&old), None, &status_writer, &at(5));
        let entry = &new["metadata"]["managedFields"][0];
        assert_eq!(entry["subresource"], "status");
        assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:desired": {}}}));
    }

    #[test]
    fn a_list_of_empty_entries_clears_managed_fields() {
        let mut old = job("nginx");
        record_update(&mut old, None, None, &manager("kubectl"), &at(10));
        let mut new = job("redis");
        record_update(
            &mut new,
            Some(&old),
            Some(json!([{}])),
            &manager("x"),
            &at(20),
        );
        assert!(new["metadata"].get("managedFields").is_none());
    }
}
