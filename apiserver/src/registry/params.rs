//! What callers pass to the [`super::ResourceStore`] operations: request bodies, patches and the
//! options of each verb, already split out of the URL query and the request body by the HTTP
//! layer. Strings whose meaning Kubernetes defines (selectors, resourceVersion,
//! resourceVersionMatch) stay strings here: the registry parses and validates them, so every
//! rule and message about them lives in one place.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use prepull_api::field_error::{FieldError, FieldPath};
use serde_json::Value;

/// A request body: the raw JSON (so duplicate keys can be reported) or a document the HTTP layer
/// already parsed (e.g. from YAML).
#[derive(Clone, Debug)]
pub enum Body {
    /// JSON bytes as received.
    Json(Bytes),
    /// An already parsed document.
    Value(Value),
}

impl From<Value> for Body {
    fn from(value: Value) -> Body {
        Body::Value(value)
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::Json(bytes)
    }
}

/// How to treat unknown and duplicate fields in a body (`?fieldValidation=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Refuse the request (kubectl's default).
    Strict,
    /// Accept, dropping the fields, and say so in `Warning` headers (the API default).
    #[default]
    Warn,
    /// Accept, dropping the fields silently.
    Ignore,
}

/// An unsupported `fieldValidation` value, as kube-apiserver words it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFieldValidation(pub FieldError);

impl FromStr for FieldValidation {
    type Err = InvalidFieldValidation;

    /// Parses the query value; the empty string is the default ([`FieldValidation::Warn`]).
    fn from_str(value: &str) -> Result<FieldValidation, InvalidFieldValidation> {
        match value {
            "Strict" => Ok(FieldValidation::Strict),
            "Warn" | "" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(InvalidFieldValidation(FieldError::not_supported(
                &FieldPath::new("fieldValidation"),
                other,
                &["", "Ignore", "Strict", "Warn"],
            ))),
        }
    }
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subresource {
    /// The object itself: everything but `status` can change.
    #[default]
    Main,
    /// `/status`: only `status` can change.
    Status,
}

impl Subresource {
    /// The name in URLs and in managedFields entries (`""` for the main resource).
    pub fn as_str(self) -> &'static str {
        match self {
            Subresource::Main => "",
            Subresource::Status => "status",
        }
    }
}

/// Options of create, update and patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteParams {
    /// `dryRun=All`: run every step except the storage write.
    pub dry_run: bool,
    /// `?fieldManager=`; when unset the manager is the User-Agent up to its first `/`.
    pub field_manager: Option<String>,
    /// `?fieldValidation=`.
    pub field_validation: FieldValidation,
    /// `?force=true` (apply patches only): take the fields other managers own instead of
    /// failing with a conflict.
    pub force: bool,
    /// The request's `User-Agent` header.
    pub user_agent: Option<String>,
}

impl WriteParams {
    /// The managedFields manager of this write: `fieldManager`, else the User-Agent's product
    /// name (everything before the first `/`), as kube-apiserver picks it.
    pub fn manager(&self) -> String {
        match self.field_manager.as_deref().filter(|m| !m.is_empty()) {
            Some(manager) => manager.to_owned(),
            None => self
                .user_agent
                .as_deref()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// A patch document, by content type.
#[derive(Clone, Debug)]
pub enum Patch {
    /// `application/json-patch+json` (RFC 6902).
    Json(Bytes),
    /// `application/merge-patch+json` (RFC 7386): `null` deletes a field.
    Merge(Bytes),
    /// `application/strategic-merge-patch+json`: a merge patch whose lists merge by the keys
    /// the schema declares, with `$patch` and other directives.
    Strategic(Bytes),
    /// `application/apply-patch+yaml` (server-side apply): the applied configuration, already
    /// parsed from YAML or JSON.
    Apply(Value),
}

/// How dependents are treated when an object is deleted (`propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// The garbage collector deletes dependents first; the object waits with finalizer
    /// `foregroundDeletion`.
    Foreground,
    /// The object goes now; the garbage collector deletes dependents afterwards.
    Background,
    /// Dependents are kept; the object waits with finalizer `orphan` until the garbage collector
    /// has removed their owner references.
    Orphan,
}

impl PropagationPolicy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PropagationPolicy::Foreground => "Foreground",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Orphan => "Orphan",
        }
    }
}

/// An unsupported `propagationPolicy` value, as kube-apiserver words it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPropagationPolicy(pub FieldError);

impl FromStr for PropagationPolicy {
    type Err = InvalidPropagationPolicy;

    fn from_str(value: &str) -> Result<PropagationPolicy, InvalidPropagationPolicy> {
        match value {
            "Foreground" => Ok(PropagationPolicy::Foreground),
            "Background" => Ok(PropagationPolicy::Background),
            "Orphan" => Ok(PropagationPolicy::Orphan),
            other => Err(InvalidPropagationPolicy(FieldError::not_supported(
                &FieldPath::new("propagationPolicy"),
                other,
                &["Foreground", "Background", "Orphan", "nil"],
            ))),
        }
    }
}

impl fmt::Display for PropagationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Delete preconditions: the delete only happens if the stored object still has these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Options of delete and deletecollection (DeleteOptions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// `dryRun=All`.
    pub dry_run: bool,
    pub preconditions: Preconditions,
    pub propagation_policy: Option<PropagationPolicy>,
    /// The deprecated `orphanDependents`; may not be combined with `propagation_policy`.
    pub orphan_dependents: Option<bool>,
}

/// Options of list and deletecollection (ListOptions), as given in the query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `?labelSelector=`.
    pub label_selector: Option<String>,
    /// `?fieldSelector=`: `metadata.name`, and `metadata.namespace` for namespaced kinds.
    pub field_selector: Option<String>,
    /// `?limit=`; 0 or unset = everything.
    pub limit: Option<u64>,
    /// `?continue=`.
    pub continue_token: Option<String>,
    /// `?resourceVersion=`: unset = most recent, `0` = any, N = not older than N.
    pub resource_version: Option<String>,
    /// `?resourceVersionMatch=`: `NotOlderThan` or `Exact`.
    pub resource_version_match: Option<String>,
    /// `?sendInitialEvents=` (only meaningful on a watch; a list with it is refused).
    pub send_initial_events: Option<bool>,
}

/// Options of watch (ListOptions with `watch=true`), as given in the query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchParams {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// unset or `0`: start with the current objects as ADDED events; N: changes after N.
    pub resource_version: Option<String>,
    /// Only `NotOlderThan`, and only with `send_initial_events`.
    pub resource_version_match: Option<String>,
    /// Watch-list: initial ADDED events, then (with bookmarks allowed) a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`.
    pub send_initial_events: Option<bool>,
    /// `?allowWatchBookmarks=true`.
    pub allow_bookmarks: bool,
    /// With bookmarks allowed: emit a BOOKMARK after this long without events.
    pub bookmark_interval: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manager_is_the_field_manager_or_the_user_agent_product() {
        let mut params = WriteParams {
            user_agent: Some("kubectl/v1.34.0 (linux/amd64) kubernetes/abc".into()),
            ..WriteParams::default()
        };
        assert_eq!(params.manager(), "kubectl");
        params.field_manager = Some("kubectl-edit".into());
        assert_eq!(params.manager(), "kubectl-edit");
        assert_eq!(WriteParams::default().manager(), "");
    }

    #[test]
    fn unknown_option_values_are_refused_with_the_supported_ones() {
        let err = "Sloppy".parse::<FieldValidation>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "fieldValidation: Unsupported value: \"Sloppy\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        );
        assert_eq!(
            "".parse::<FieldValidation>().unwrap(),
            FieldValidation::Warn
        );
        let err = "Later".parse::<PropagationPolicy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "propagationPolicy: Unsupported value: \"Later\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        );
    }
}
