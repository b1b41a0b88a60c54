//! Validation of `metadata` (names, namespace, labels, annotations, owner references,
//! finalizers), as kube-apiserver validates it for custom resources.
//!
//! Messages follow `k8s.io/apimachinery` v0.34 (`pkg/api/validation`) word for word, because
//! clients display them unchanged. The name-format primitives (`is_dns1123_subdomain`, ...)
//! live in the private `formats` submodule and are re-exported here.

mod formats;

pub use formats::{
    DNS1123_LABEL_MAX_LENGTH, DNS1123_SUBDOMAIN_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH,
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::field_error::{FieldError, FieldPath};

/// Largest total size of all annotation keys and values, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Kubernetes' treatment of a `generateName` prefix: a trailing `-` (on a prefix longer than
/// one character) is masked so the prefix is checked as the name would be once a random suffix
/// is appended. Like apimachinery, this drops the last two characters and appends `a`.
fn mask_trailing_dash(prefix: &str) -> String {
    if prefix.len() > 1 && prefix.ends_with('-') {
        // Both removed characters are ASCII when the prefix is otherwise valid; for a non-ASCII
        // second-to-last character the result is invalid either way.
        let cut = prefix[..prefix.len() - 1]
            .char_indices()
            .last()
            .map_or(0, |(i, _)| i);
        format!("{}a", &prefix[..cut])
    } else {
        prefix.to_owned()
    }
}

/// Validates label keys (qualified names) and values. Errors are reported on `path` itself
/// (not per key), as Kubernetes does.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in labels {
        errs.extend(validate_label_name(key, path));
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, value.as_str(), msg));
        }
    }
    errs
}

/// Validates one label key (a qualified name).
pub fn validate_label_name(key: &str, path: &FieldPath) -> Vec<FieldError> {
    is_qualified_name(key)
        .into_iter()
        .map(|msg| FieldError::invalid(path, key, msg))
        .collect()
}

/// Validates annotation keys (qualified names, case-insensitively) and their total size
/// (keys plus values at most 256 KiB).
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for key in annotations.keys() {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, key.as_str(), msg));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// Validates owner references: apiVersion with a version, kind, name and uid present, no
/// `v1 Event` owner, at most one controller.
pub fn validate_owner_references(refs: &[OwnerReference], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = split_api_version(&r.api_version);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        for (field, value) in [("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    value.as_str(),
                    "must not be empty",
                ));
            }
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                serde_json::to_value(r).unwrap_or_default(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    serde_json::to_value(refs).unwrap_or_default(),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// Splits `group/version` (or a bare `version`) like apimachinery's `ParseGroupVersion`; a
/// value with more than one `/` has neither.
fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.matches('/').count() {
        0 => ("", api_version),
        1 => api_version.split_once('/').unwrap_or_default(),
        _ => ("", ""),
    }
}

const FINALIZER_ORPHAN: &str = "orphan";
const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// Validates finalizer names (qualified names) and that `orphan` and `foregroundDeletion` are
/// not both set.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for finalizer in finalizers {
        for msg in is_qualified_name(finalizer) {
            errs.push(FieldError::invalid(path, finalizer.as_str(), msg));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has(FINALIZER_ORPHAN) && has(FINALIZER_FOREGROUND) {
        errs.push(FieldError::invalid(
            path,
            finalizers.to_vec(),
            format!("finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"),
        ));
    }
    errs
}

/// Validates an object's metadata on create, like kube-apiserver does for custom resources.
///
/// `name` must be a DNS-1123 subdomain; it may be empty only when `generateName` is set (the
/// prefix is then validated as the name would be after a suffix is appended). For a
/// `namespaced` kind the namespace is required and must be a DNS-1123 label; for a
/// cluster-scoped kind it is forbidden. `generation` must not be negative; labels, annotations,
/// owner references and finalizers follow the rules of their own validators.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta.name.as_deref().unwrap_or_default();
    let generate_name = meta.generate_name.as_deref().unwrap_or_default();
    if !generate_name.is_empty() {
        for msg in is_dns1123_subdomain(&mask_trailing_dash(generate_name)) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                &path.child("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in is_dns1123_subdomain(name) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid(
                    &path.child("namespace"),
                    namespace,
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(generation) = meta.generation
        && generation < 0
    {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            generation,
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(common_meta_errors(meta, path));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    errs
}

/// Validates an object's metadata on update against the stored `old` metadata.
///
/// `resourceVersion` must be set (a server doing an unconditional update copies the stored
/// one in first), `generation` must not go down, name, namespace, uid, creationTimestamp,
/// deletionTimestamp and deletionGracePeriodSeconds are immutable, no finalizer may be added
/// once deletion started, and labels, annotations and owner references are re-validated.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_finalizers = old.finalizers.as_deref().unwrap_or_default();
        let mut added: Vec<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        added.sort();
        added.dedup();
        if !added.is_empty() {
            let listed: Vec<String> = added
                .iter()
                .map(|f| crate::field_error::go_quote(f))
                .collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            ));
        }
    }
    let resource_version = new.resource_version.as_deref().unwrap_or_default();
    if resource_version.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            resource_version,
            "must be specified for an update",
        ));
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    let immutable = |field: &str, new_value: serde_json::Value, old_value: serde_json::Value| {
        (new_value != old_value)
            .then(|| FieldError::invalid(&path.child(field), new_value, "field is immutable"))
    };
    let text = |v: &Option<String>| serde_json::Value::from(v.as_deref().unwrap_or_default());
    fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or_default()
    }
    errs.extend(
        [
            immutable("name", text(&new.name), text(&old.name)),
            immutable("namespace", text(&new.namespace), text(&old.namespace)),
            immutable("uid", text(&new.uid), text(&old.uid)),
            immutable(
                "creationTimestamp",
                json(&new.creation_timestamp),
                json(&old.creation_timestamp),
            ),
            immutable(
                "deletionTimestamp",
                json(&new.deletion_timestamp),
                json(&old.deletion_timestamp),
            ),
            immutable(
                "deletionGracePeriodSeconds",
                json(&new.deletion_grace_period_seconds),
                json(&old.deletion_grace_period_seconds),
            ),
        ]
        .into_iter()
        .flatten(),
    );
    errs.extend(common_meta_errors(new, path));
    errs
}

fn common_meta_errors(meta: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let empty = BTreeMap::new();
    let mut errs = validate_labels(
        meta.labels.as_ref().unwrap_or(&empty),
        &path.child("labels"),
    );
    errs.extend(validate_annotations(
        meta.annotations.as_ref().unwrap_or(&empty),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or_default(),
        &path.child("ownerReferences"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_error::FieldErrorType;

    use formats::tests::SUBDOMAIN_MSG;

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: namespace.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    fn metadata() -> FieldPath {
        FieldPath::new("metadata")
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn a_valid_namespaced_object_has_no_errors() {
        let mut m = meta("job-1", Some("default"));
        m.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
        m.annotations = Some(BTreeMap::from([(
            "Example.com/Note".into(),
            "any text".into(),
        )]));
        assert!(validate_object_meta(&m, true, &metadata()).is_empty());
        assert!(validate_object_meta(&meta("node-1", None), false, &metadata()).is_empty());
    }

    #[test]
    fn a_missing_name_is_required_unless_generate_name_is_set() {
        let errs = validate_object_meta(&ObjectMeta::default(), false, &metadata());
        assert_eq!(
            messages(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(errs[0].kind, FieldErrorType::Required);
        let generated = ObjectMeta {
            generate_name: Some("list-".into()),
            ..ObjectMeta::default()
        };
        assert!(validate_object_meta(&generated, false, &metadata()).is_empty());
    }

    #[test]
    fn a_generate_name_prefix_is_checked_as_the_generated_name() {
        let bad = ObjectMeta {
            generate_name: Some("Bad-".into()),
            ..ObjectMeta::default()
        };
        let errs = validate_object_meta(&bad, false, &metadata());
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.generateName: Invalid value: \"Bad-\": {SUBDOMAIN_MSG}"
            )]
        );
        let dot_dash = ObjectMeta {
            generate_name: Some("a.-".into()),
            ..ObjectMeta::default()
        };
        // "a.-" masks to "aa": Kubernetes drops two characters before appending 'a'.
        assert!(validate_object_meta(&dot_dash, false, &metadata()).is_empty());
    }

    #[test]
    fn a_bad_name_is_invalid_with_the_subdomain_message() {
        let errs = validate_object_meta(&meta("Bad_Name", Some("ns")), true, &metadata());
        assert_eq!(
            messages(&errs),
            vec![format!(
                "metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN_MSG}"
            )]
        );
    }

    #[test]
    fn the_namespace_is_required_for_namespaced_kinds_and_forbidden_otherwise() {
        let errs = validate_object_meta(&meta("a", None), true, &metadata());
        assert_eq!(messages(&errs), vec!["metadata.namespace: Required value"]);
        let errs = validate_object_meta(&meta("a", Some("ns")), false, &metadata());
        assert_eq!(
            messages(&errs),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        let errs = validate_object_meta(&meta("a", Some("a.b")), true, &metadata());
        assert_eq!(
            messages(&errs),
            vec!["metadata.namespace: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn bad_label_keys_and_values_are_reported_on_the_labels_field() {
        let mut m = meta("a", None);
        m.labels = Some(BTreeMap::from([
            ("good".into(), "-bad".into()),
            ("bad key".into(), "ok".into()),
        ]));
        let errs = validate_object_meta(&m, false, &metadata());
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.field == "metadata.labels"));
        assert!(
            errs[0].message().starts_with(
                "metadata.labels: Invalid value: \"bad key\": name part must consist of"
            )
        );
        assert!(
            errs[1]
                .message()
                .starts_with("metadata.labels: Invalid value: \"-bad\": a valid label must be")
        );
    }

    #[test]
    fn annotations_check_keys_case_insensitively_and_limit_the_total_size() {
        let mut m = meta("a", None);
        m.annotations = Some(BTreeMap::from([("UPPER/Key".into(), "v".into())]));
        assert!(validate_object_meta(&m, false, &metadata()).is_empty());
        m.annotations = Some(BTreeMap::from([("a//b".into(), "v".into())]));
        let errs = validate_object_meta(&m, false, &metadata());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.annotations");
        m.annotations = Some(BTreeMap::from([(
            "big".into(),
            "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT),
        )]));
        let errs = validate_object_meta(&m, false, &metadata());
        assert_eq!(
            messages(&errs),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn owner_references_need_their_fields_and_at_most_one_controller() {
        let owner = |name: &str, controller: bool| OwnerReference {
            api_version: "apps.kruise.io/v1alpha1".into(),
            kind: "ImageListPullJob".into(),
            name: name.into(),
            uid: "u1".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        let mut m = meta("a", Some("ns"));
        m.owner_references = Some(vec![owner("x", true)]);
        assert!(validate_object_meta(&m, true, &metadata()).is_empty());
        m.owner_references = Some(vec![owner("x", true), owner("y", true)]);
        let errs = validate_object_meta(&m, true, &metadata());
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message().ends_with(
            "Only one reference can have Controller set to true. Found \"true\" in references for ImageListPullJob/x and ImageListPullJob/y"
        ));
        let mut empty = owner("", false);
        empty.api_version = "apps.kruise.io/".into();
        empty.uid = String::new();
        m.owner_references = Some(vec![empty]);
        assert_eq!(
            messages(&validate_object_meta(&m, true, &metadata())),
            vec![
                "metadata.ownerReferences.apiVersion: Invalid value: \"apps.kruise.io/\": version must not be empty",
                "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
                "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
            ]
        );
    }

    #[test]
    fn finalizers_must_be_qualified_names_and_not_both_orphan_and_foreground() {
        let mut m = meta("a", None);
        m.finalizers = Some(vec!["apps.kruise.io/cleanup".into()]);
        assert!(validate_object_meta(&m, false, &metadata()).is_empty());
        m.finalizers = Some(vec!["orphan".into(), "foregroundDeletion".into()]);
        assert_eq!(
            messages(&validate_object_meta(&m, false, &metadata())),
            vec![
                "metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set"
            ]
        );
    }

    #[test]
    fn a_negative_generation_is_invalid() {
        let mut m = meta("a", None);
        m.generation = Some(-1);
        assert_eq!(
            messages(&validate_object_meta(&m, false, &metadata())),
            vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn an_update_keeps_identity_fields_and_needs_a_resource_version() {
        let mut old = meta("a", Some("ns"));
        old.uid = Some("u1".into());
        old.resource_version = Some("5".into());
        old.generation = Some(3);
        let mut new = old.clone();
        assert!(validate_object_meta_update(&new, &old, &metadata()).is_empty());
        new.name = Some("b".into());
        new.resource_version = None;
        new.generation = Some(2);
        assert_eq!(
            messages(&validate_object_meta_update(&new, &old, &metadata())),
            vec![
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.generation: Invalid value: 2: must not be decremented",
                "metadata.name: Invalid value: \"b\": field is immutable",
            ]
        );
    }

    #[test]
    fn an_update_of_a_deleting_object_may_not_add_finalizers() {
        let mut old = meta("a", None);
        old.resource_version = Some("1".into());
        old.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        old.finalizers = Some(vec!["x.io/a".into()]);
        let mut new = old.clone();
        assert!(validate_object_meta_update(&new, &old, &metadata()).is_empty());
        new.finalizers = Some(vec!["x.io/a".into(), "x.io/b".into()]);
        assert_eq!(
            messages(&validate_object_meta_update(&new, &old, &metadata())),
            vec![
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x.io/b\"}"
            ]
        );
    }
}
