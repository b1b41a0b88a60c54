//! Query parameters of resource requests, parsed and validated as kube-apiserver does.
//!
//! Malformed values (`limit=abc`, `watch=maybe`) are 400 BadRequest; unsupported option values
//! (`dryRun=Some`, `fieldValidation=Loud`, `propagationPolicy=Later`) are 422 Invalid on the
//! options kind (`CreateOptions.meta.k8s.io "" is invalid: ...`), as kube-apiserver answers.
//! Selectors and resourceVersion rules are checked by the registry, which owns them; here they
//! are only split out of the query into the registry's parameter types.

use std::time::Duration;

use prepull_api::field_error::{FieldError, FieldPath};
use serde_json::Value;

use super::status::{ApiError, Cause, Subject};
use crate::registry::{
    DeleteParams, FieldValidation, InvalidFieldValidation, InvalidPropagationPolicy, ListParams,
    Preconditions, PropagationPolicy, WatchParams, WriteParams,
};

/// The raw query string, decoded once.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `raw` (the part after `?`).
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (`dryRun` may repeat).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A non-empty value of `key`.
    fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// A boolean as Go's `strconv.ParseBool` reads it; absent or empty is `None`.
    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        let Some(value) = self.non_empty(key) else {
            return Ok(None);
        };
        match value {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
            other => Err(ApiError::bad_request(format!(
                "strconv.ParseBool: parsing {}: invalid syntax",
                quote(other)
            ))),
        }
    }

    /// A signed integer; absent or empty is `None`.
    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.non_empty(key) else {
            return Ok(None);
        };
        value.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "strconv.ParseInt: parsing {}: invalid syntax",
                quote(value)
            ))
        })
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// One problem with request options, as a field error renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    pub field: String,
    /// The cause reason, e.g. `FieldValueNotSupported`.
    pub reason: &'static str,
    /// The message without the field, e.g. `Unsupported value: "x": supported values: "All"`.
    pub body: String,
}

impl From<FieldError> for OptionError {
    fn from(e: FieldError) -> OptionError {
        OptionError {
            field: e.field.clone(),
            reason: e.kind.reason(),
            body: e.body(),
        }
    }
}

/// 422 on an options kind, e.g. `CreateOptions.meta.k8s.io "" is invalid: dryRun: ...`.
pub fn invalid_options(kind: &str, errors: &[OptionError]) -> ApiError {
    let causes = errors
        .iter()
        .map(|e| Cause {
            reason: e.reason.to_string(),
            message: e.body.clone(),
            field: e.field.clone(),
        })
        .collect();
    let mut err = ApiError::invalid(kind, &Subject::new("meta.k8s.io", "", ""), causes);
    let messages: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.body))
        .collect();
    let joined = match messages.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    err.message = format!("{kind}.meta.k8s.io \"\" is invalid: {joined}");
    err
}

/// Options of a list (or deletecollection). Selectors and resourceVersion semantics are
/// validated by the registry, which owns those rules.
pub fn list_params(query: &Query) -> Result<ListParams, ApiError> {
    Ok(ListParams {
        label_selector: query.non_empty("labelSelector").map(str::to_string),
        field_selector: query.non_empty("fieldSelector").map(str::to_string),
        limit: match query.int("limit")? {
            Some(n) if n > 0 => Some(n as u64),
            _ => None,
        },
        continue_token: query.non_empty("continue").map(str::to_string),
        resource_version: query.non_empty("resourceVersion").map(str::to_string),
        resource_version_match: query.non_empty("resourceVersionMatch").map(str::to_string),
        send_initial_events: query.bool("sendInitialEvents")?,
    })
}

/// Whether a list request is a watch (`?watch=true`; the `/watch/` path prefix is seen by
/// [`super::request_info`]).
pub fn is_watch(query: &Query) -> Result<bool, ApiError> {
    Ok(query.bool("watch")?.unwrap_or(false))
}

/// Options of a watch, with BOOKMARKs every `bookmark_interval` when the client allows them.
pub fn watch_params(query: &Query, bookmark_interval: Duration) -> Result<WatchParams, ApiError> {
    let allow_bookmarks = query.bool("allowWatchBookmarks")?.unwrap_or(false);
    Ok(WatchParams {
        label_selector: query.non_empty("labelSelector").map(str::to_string),
        field_selector: query.non_empty("fieldSelector").map(str::to_string),
        resource_version: query.non_empty("resourceVersion").map(str::to_string),
        resource_version_match: query.non_empty("resourceVersionMatch").map(str::to_string),
        send_initial_events: query.bool("sendInitialEvents")?,
        allow_bookmarks,
        bookmark_interval: allow_bookmarks.then_some(bookmark_interval),
    })
}

/// `?timeoutSeconds=` of a watch (negative reads as 0, i.e. unset).
pub fn timeout_seconds(query: &Query) -> Result<Option<u64>, ApiError> {
    Ok(query.int("timeoutSeconds")?.map(|n| n.max(0) as u64))
}

/// Parses `dryRun` (repeatable; only `All` is defined).
fn dry_run(query: &Query, errors: &mut Vec<OptionError>) -> bool {
    let values = query.all("dryRun");
    check_dry_run(&values, errors);
    !values.is_empty()
}

fn check_dry_run(values: &[&str], errors: &mut Vec<OptionError>) {
    if values.iter().any(|v| *v != "All") {
        // Go prints the []string with %#v.
        let rendered: Vec<String> = values.iter().map(|v| quote(v)).collect();
        errors.push(OptionError {
            field: "dryRun".into(),
            reason: "FieldValueNotSupported",
            body: format!(
                "Unsupported value: []string{{{}}}: supported values: \"All\"",
                rendered.join(", ")
            ),
        });
    }
}

/// Options of create, update and patch; `options_kind` (`CreateOptions`, `UpdateOptions`,
/// `PatchOptions`) names them in 422 answers. Without `fieldValidation` the server warns
/// about unknown fields, as kube-apiserver does (kubectl sends `Strict`).
pub fn write_params(
    query: &Query,
    options_kind: &str,
    user_agent: Option<&str>,
) -> Result<WriteParams, ApiError> {
    let mut errors: Vec<OptionError> = Vec::new();
    let dry_run = dry_run(query, &mut errors);
    let field_validation = query
        .get("fieldValidation")
        .unwrap_or("")
        .parse::<FieldValidation>()
        .unwrap_or_else(|InvalidFieldValidation(problem)| {
            errors.push(problem.into());
            FieldValidation::Warn
        });
    let field_manager = query.non_empty("fieldManager").map(str::to_string);
    if let Some(manager) = &field_manager {
        if manager.chars().count() > 128 {
            errors.push(FieldError::too_long(&FieldPath::new("fieldManager"), 128).into());
        }
        if manager.chars().any(|c| c.is_control()) {
            errors.push(
                FieldError::invalid(
                    &FieldPath::new("fieldManager"),
                    manager.as_str(),
                    "FieldManager must consist of printable characters",
                )
                .into(),
            );
        }
    }
    let force = match query.get("force").unwrap_or("") {
        "" | "false" | "0" | "False" => false,
        "true" | "1" | "True" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid boolean value for force: {other:?}"
            )));
        }
    };
    if !errors.is_empty() {
        return Err(invalid_options(options_kind, &errors));
    }
    Ok(WriteParams {
        dry_run,
        field_manager,
        field_validation,
        force,
        user_agent: user_agent.map(str::to_string),
    })
}

/// Options of delete and deletecollection, from the query and an optional `DeleteOptions`
/// body (the body wins where both say something, as in kube-apiserver).
pub fn delete_params(query: &Query, body: Option<&Value>) -> Result<DeleteParams, ApiError> {
    let mut errors: Vec<OptionError> = Vec::new();
    let mut dry_run = dry_run(query, &mut errors);
    let mut policy = query.non_empty("propagationPolicy").map(str::to_string);
    let mut orphan_dependents = query.bool("orphanDependents")?;
    let mut grace_period = query.int("gracePeriodSeconds")?;
    let mut preconditions = Preconditions::default();
    if let Some(body) = body {
        let kind = body
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("DeleteOptions");
        if kind != "DeleteOptions" {
            return Err(ApiError::bad_request(format!(
                "the body of the request was of kind {}, expected DeleteOptions",
                quote(kind)
            )));
        }
        if let Some(values) = body.get("dryRun").and_then(Value::as_array) {
            let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            check_dry_run(&values, &mut errors);
            dry_run |= !values.is_empty();
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            policy = Some(p.to_string());
        }
        if let Some(o) = body.get("orphanDependents").and_then(Value::as_bool) {
            orphan_dependents = Some(o);
        }
        if let Some(g) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
            grace_period = Some(g);
        }
        let field = |name: &str| {
            body.pointer(&format!("/preconditions/{name}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        preconditions = Preconditions {
            uid: field("uid"),
            resource_version: field("resourceVersion"),
        };
    }
    let propagation_policy = match policy.as_deref() {
        None => None,
        Some(text) => match text.parse::<PropagationPolicy>() {
            Ok(policy) => Some(policy),
            Err(InvalidPropagationPolicy(problem)) => {
                errors.push(problem.into());
                None
            }
        },
    };
    if let Some(g) = grace_period
        && g < 0
    {
        errors.push(
            FieldError::invalid(
                &FieldPath::new("gracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            )
            .into(),
        );
    }
    if !errors.is_empty() {
        return Err(invalid_options("DeleteOptions", &errors));
    }
    Ok(DeleteParams {
        dry_run,
        preconditions,
        propagation_policy,
        orphan_dependents,
    })
}

/// What Table rows carry (`includeObject`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IncludeObject {
    /// Nothing but the cells.
    None,
    /// PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses `includeObject`; unknown values are 400 with kube-apiserver's text.
    pub fn parse(query: &Query) -> Result<IncludeObject, ApiError> {
        match query.get("includeObject").unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(ApiError::bad_request(format!(
                "Unable to convert to Table as requested: includeObject: Unsupported value: {}: supported values: \"Metadata\", \"None\", \"Object\"",
                quote(other)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> Query {
        Query::parse(Some(raw))
    }

    #[test]
    fn list_parameters_are_read_as_given() {
        let params = list_params(&q(
            "labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dx&limit=10&resourceVersion=5&resourceVersionMatch=NotOlderThan",
        ))
        .unwrap();
        assert_eq!(params.limit, Some(10));
        assert_eq!(params.label_selector.as_deref(), Some("app=web"));
        assert_eq!(params.field_selector.as_deref(), Some("metadata.name=x"));
        assert_eq!(
            params.resource_version_match.as_deref(),
            Some("NotOlderThan")
        );
    }

    #[test]
    fn a_malformed_limit_or_flag_is_a_bad_request() {
        let err = list_params(&q("limit=abc")).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(
            err.message,
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        let err = is_watch(&q("watch=maybe")).unwrap_err();
        assert_eq!(
            err.message,
            "strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

    #[test]
    fn bookmarks_come_at_the_configured_interval_only_when_allowed() {
        let interval = Duration::from_secs(7);
        let allowed = watch_params(&q("watch=1&allowWatchBookmarks=true"), interval).unwrap();
        assert_eq!(allowed.bookmark_interval, Some(interval));
        let plain = watch_params(&q("watch=1"), interval).unwrap();
        assert_eq!(plain.bookmark_interval, None);
    }

    #[test]
    fn dry_run_accepts_only_all() {
        assert!(
            write_params(&q("dryRun=All"), "CreateOptions", None)
                .unwrap()
                .dry_run
        );
        let err = write_params(&q("dryRun=Some"), "CreateOptions", None).unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\""
        );
        assert_eq!(err.causes[0].field, "dryRun");
    }

    #[test]
    fn field_validation_defaults_to_warn() {
        let params = write_params(&q(""), "CreateOptions", Some("kubectl/v1.32")).unwrap();
        assert_eq!(params.field_validation, FieldValidation::Warn);
        assert_eq!(params.manager(), "kubectl");
        assert_eq!(
            write_params(&q("fieldValidation=Strict"), "PatchOptions", None)
                .unwrap()
                .field_validation,
            FieldValidation::Strict
        );
        let err = write_params(&q("fieldValidation=Loud"), "PatchOptions", None).unwrap_err();
        assert_eq!(
            err.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loud\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        );
    }

    #[test]
    fn delete_options_in_the_body_win_over_the_query() {
        let body = serde_json::json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Foreground",
            "preconditions": {"resourceVersion": "7"}
        });
        let params = delete_params(&q("propagationPolicy=Orphan"), Some(&body)).unwrap();
        assert_eq!(
            params.propagation_policy,
            Some(PropagationPolicy::Foreground)
        );
        assert_eq!(params.preconditions.resource_version.as_deref(), Some("7"));
        let err = delete_params(&q("propagationPolicy=Sometimes"), None).unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert!(err.message.starts_with("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sometimes\""));
    }
}
