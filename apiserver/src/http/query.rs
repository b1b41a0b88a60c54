//! Query parameters of resource requests, parsed and validated as kube-apiserver does.
//!
//! Malformed values (`limit=abc`, a label selector that does not parse, an unsupported field
//! selector) are 400 BadRequest; well-formed but disallowed combinations are 422 Invalid on
//! the options kind (`ListOptions.meta.k8s.io "" is invalid: ...`), with the field errors
//! kube-apiserver's option validation reports.

use prepull_api::field_error::{FieldError, FieldPath};
use prepull_api::label_selector::{FieldQuery, LabelQuery, parse_field_query, parse_label_query};

use super::status::{ApiError, Cause, Subject};

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

/// How a list's or watch's `resourceVersion` is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    NotOlderThan,
    Exact,
}

/// Parameters of list and watch requests.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub label_selector: LabelQuery,
    pub field_selector: FieldQuery,
    /// `None` (or 0 from the client) means no limit.
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<ResourceVersionMatch>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout_seconds: Option<u64>,
}

impl ListQuery {
    /// Parses and validates list/watch parameters for a resource (`namespaced` decides whether
    /// `metadata.namespace` is a supported field selector). `watch` is true for the `/watch/`
    /// path prefix as well as `?watch=true`.
    pub fn parse(query: &Query, namespaced: bool, watch: bool) -> Result<ListQuery, ApiError> {
        let label_selector = match query.non_empty("labelSelector") {
            Some(s) => parse_label_query(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => LabelQuery::everything(),
        };
        let field_selector = match query.non_empty("fieldSelector") {
            Some(s) => parse_field_query(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => FieldQuery::default(),
        };
        for requirement in field_selector.requirements() {
            let supported = requirement.field == "metadata.name"
                || (namespaced && requirement.field == "metadata.namespace");
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    requirement.field
                )));
            }
        }
        let limit = match query.int("limit")? {
            Some(n) if n > 0 => Some(n as u64),
            _ => None,
        };
        let raw_match = query.non_empty("resourceVersionMatch");
        let resource_version_match = match raw_match {
            Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
            Some("Exact") => Some(ResourceVersionMatch::Exact),
            _ => None,
        };
        let parsed = ListQuery {
            label_selector,
            field_selector,
            limit,
            continue_token: query.non_empty("continue").map(str::to_string),
            resource_version: query.non_empty("resourceVersion").map(str::to_string),
            resource_version_match,
            watch: watch || query.bool("watch")?.unwrap_or(false),
            allow_watch_bookmarks: query.bool("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: query.bool("sendInitialEvents")?,
            timeout_seconds: query.int("timeoutSeconds")?.map(|n| n.max(0) as u64),
        };
        let errors = if parsed.watch {
            parsed.watch_errors(raw_match)
        } else {
            parsed.list_errors(raw_match)
        };
        if !errors.is_empty() {
            return Err(invalid_options("ListOptions", &errors));
        }
        if let (Some(rv), false) = (&parsed.resource_version, parsed.continue_token.is_none()) {
            // kube-apiserver refuses both; the continue token carries its own revision.
            if rv != "0" {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
        }
        Ok(parsed)
    }

    fn list_errors(&self, raw_match: Option<&str>) -> Vec<OptionError> {
        let path = FieldPath::new("resourceVersionMatch");
        let mut errors: Vec<OptionError> = Vec::new();
        if let Some(raw) = raw_match {
            if self.resource_version.is_none() {
                errors.push(FieldError::forbidden(
                    &path,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ).into());
            }
            if self.continue_token.is_some() {
                errors.push(FieldError::forbidden(
                    &path,
                    "resourceVersionMatch is forbidden when continue is provided",
                ).into());
            }
            if self.resource_version_match.is_none() {
                errors.push(FieldError::not_supported(
                    &path,
                    raw,
                    &["Exact", "NotOlderThan", ""],
                ).into());
            }
            if self.resource_version_match == Some(ResourceVersionMatch::Exact)
                && self.resource_version.as_deref() == Some("0")
            {
                errors.push(FieldError::forbidden(
                    &path,
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ).into());
            }
        }
        if self.send_initial_events.is_some() {
            errors.push(FieldError::forbidden(
                &FieldPath::new("sendInitialEvents"),
                "sendInitialEvents is forbidden for list",
            ).into());
        }
        errors
    }

    fn watch_errors(&self, raw_match: Option<&str>) -> Vec<OptionError> {
        let path = FieldPath::new("resourceVersionMatch");
        let mut errors: Vec<OptionError> = Vec::new();
        if self.send_initial_events.is_some()
            && self.resource_version_match != Some(ResourceVersionMatch::NotOlderThan)
        {
            errors.push(FieldError::forbidden(
                &path,
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ).into());
        }
        if let Some(raw) = raw_match {
            if self.send_initial_events.is_none() {
                errors.push(FieldError::forbidden(
                    &path,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ).into());
            }
            if self.resource_version_match != Some(ResourceVersionMatch::NotOlderThan) {
                errors.push(FieldError::not_supported(&path, raw, &["NotOlderThan"]).into());
            }
            if self.continue_token.is_some() {
                errors.push(FieldError::forbidden(
                    &path,
                    "resourceVersionMatch is forbidden when continue is provided",
                ).into());
            }
        }
        errors
    }
}

/// How unknown and duplicate fields of a write are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// 400 naming every problem.
    Strict,
    /// Accepted, with a `Warning` header per problem (the default without the parameter).
    Warn,
    /// Accepted silently.
    Ignore,
}

/// Parameters of create, update and patch.
#[derive(Clone, Debug)]
pub struct WriteQuery {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
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

impl WriteQuery {
    /// Parses and validates write parameters; `options_kind` is `CreateOptions`,
    /// `UpdateOptions` or `PatchOptions`.
    pub fn parse(query: &Query, options_kind: &str) -> Result<WriteQuery, ApiError> {
        let mut errors: Vec<OptionError> = Vec::new();
        let dry_run = dry_run(query, &mut errors);
        let field_validation = match query.get("fieldValidation").unwrap_or("") {
            "" | "Warn" => FieldValidation::Warn,
            "Strict" => FieldValidation::Strict,
            "Ignore" => FieldValidation::Ignore,
            other => {
                errors.push(FieldError::not_supported(
                    &FieldPath::new("fieldValidation"),
                    other,
                    &["", "Ignore", "Strict", "Warn"],
                ).into());
                FieldValidation::Warn
            }
        };
        let field_manager = query.non_empty("fieldManager").map(str::to_string);
        if let Some(manager) = &field_manager {
            if manager.chars().count() > 128 {
                errors.push(FieldError::too_long(&FieldPath::new("fieldManager"), 128).into());
            }
            if manager.chars().any(|c| c.is_control()) {
                errors.push(FieldError::invalid(
                    &FieldPath::new("fieldManager"),
                    manager.as_str(),
                    "FieldManager must consist of printable characters",
                ).into());
            }
        }
        if !errors.is_empty() {
            return Err(invalid_options(options_kind, &errors));
        }
        Ok(WriteQuery {
            dry_run,
            field_manager,
            field_validation,
        })
    }
}

/// What happens to dependents of a deleted object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    Orphan,
    Background,
    Foreground,
}

/// Parameters of delete and deletecollection, from the query and the `DeleteOptions` body
/// (the body wins where both are given, as in kube-apiserver).
#[derive(Clone, Debug, Default)]
pub struct DeleteQuery {
    pub dry_run: bool,
    pub propagation_policy: Option<PropagationPolicy>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteQuery {
    /// Parses the query and an optional `DeleteOptions` body.
    pub fn parse(query: &Query, body: Option<&serde_json::Value>) -> Result<DeleteQuery, ApiError> {
        let mut errors: Vec<OptionError> = Vec::new();
        let mut dry_run = dry_run(query, &mut errors);
        let mut policy = query.non_empty("propagationPolicy").map(str::to_string);
        let mut grace = query.int("gracePeriodSeconds")?;
        let mut orphan = query.bool("orphanDependents")?;
        let mut uid = None;
        let mut resource_version = None;
        if let Some(body) = body {
            let kind = body.get("kind").and_then(|k| k.as_str()).unwrap_or("DeleteOptions");
            if kind != "DeleteOptions" {
                return Err(ApiError::bad_request(format!(
                    "the body of the request was of kind {kind:?}, expected DeleteOptions"
                )));
            }
            if let Some(values) = body.get("dryRun").and_then(|v| v.as_array()) {
                let values: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
                check_dry_run(&values, &mut errors);
                dry_run |= !values.is_empty();
            }
            if let Some(p) = body.get("propagationPolicy").and_then(|v| v.as_str()) {
                policy = Some(p.to_string());
            }
            if let Some(g) = body.get("gracePeriodSeconds").and_then(|v| v.as_i64()) {
                grace = Some(g);
            }
            if let Some(o) = body.get("orphanDependents").and_then(|v| v.as_bool()) {
                orphan = Some(o);
            }
            let preconditions = body.get("preconditions");
            uid = preconditions
                .and_then(|p| p.get("uid"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            resource_version = preconditions
                .and_then(|p| p.get("resourceVersion"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
        }
        let propagation_policy = match policy.as_deref() {
            None => None,
            Some("Orphan") => Some(PropagationPolicy::Orphan),
            Some("Background") => Some(PropagationPolicy::Background),
            Some("Foreground") => Some(PropagationPolicy::Foreground),
            Some(other) => {
                errors.push(FieldError::not_supported(
                    &FieldPath::new("propagationPolicy"),
                    other,
                    &["Foreground", "Background", "Orphan", "nil"],
                ).into());
                None
            }
        };
        if orphan.is_some() && propagation_policy.is_some() {
            errors.push(FieldError::invalid(
                &FieldPath::new("propagationPolicy"),
                policy.clone().unwrap_or_default(),
                "orphanDependents and deletionPropagation cannot be both set",
            ).into());
        }
        if let Some(g) = grace
            && g < 0
        {
            errors.push(FieldError::invalid(
                &FieldPath::new("gracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            ).into());
        }
        if !errors.is_empty() {
            return Err(invalid_options("DeleteOptions", &errors));
        }
        let propagation_policy = propagation_policy.or(match orphan {
            Some(true) => Some(PropagationPolicy::Orphan),
            Some(false) => Some(PropagationPolicy::Background),
            None => None,
        });
        Ok(DeleteQuery {
            dry_run,
            propagation_policy,
            grace_period_seconds: grace,
            precondition_uid: uid,
            precondition_resource_version: resource_version,
        })
    }
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
    fn list_parameters_are_read() {
        let parsed = ListQuery::parse(
            &q("labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dx&limit=10&resourceVersion=5&resourceVersionMatch=NotOlderThan"),
            true,
            false,
        )
        .unwrap();
        assert_eq!(parsed.limit, Some(10));
        assert_eq!(parsed.label_selector.requires_exact_match("app"), Some("web"));
        assert_eq!(parsed.resource_version.as_deref(), Some("5"));
        assert_eq!(
            parsed.resource_version_match,
            Some(ResourceVersionMatch::NotOlderThan)
        );
    }

    #[test]
    fn a_malformed_limit_is_a_bad_request() {
        let err = ListQuery::parse(&q("limit=abc"), true, false).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(err.message, "strconv.ParseInt: parsing \"abc\": invalid syntax");
    }

    #[test]
    fn only_name_and_namespace_field_selectors_are_supported() {
        let err = ListQuery::parse(&q("fieldSelector=spec.image%3Dx"), true, false).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(err.message, "field label not supported: spec.image");
        assert!(ListQuery::parse(&q("fieldSelector=metadata.namespace%3Dx"), false, false).is_err());
    }

    #[test]
    fn resource_version_match_without_resource_version_is_invalid() {
        let err = ListQuery::parse(&q("resourceVersionMatch=Exact"), true, false).unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
        );
    }

    #[test]
    fn watch_list_needs_not_older_than() {
        assert!(
            ListQuery::parse(
                &q("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"),
                true,
                false
            )
            .is_ok()
        );
        let err = ListQuery::parse(&q("watch=1&sendInitialEvents=true"), true, false).unwrap_err();
        assert!(err.message.contains(
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        ));
    }

    #[test]
    fn dry_run_accepts_only_all() {
        assert!(WriteQuery::parse(&q("dryRun=All"), "CreateOptions").unwrap().dry_run);
        let err = WriteQuery::parse(&q("dryRun=Some"), "CreateOptions").unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\""
        );
    }

    #[test]
    fn field_validation_defaults_to_warn() {
        assert_eq!(
            WriteQuery::parse(&q(""), "CreateOptions").unwrap().field_validation,
            FieldValidation::Warn
        );
        assert_eq!(
            WriteQuery::parse(&q("fieldValidation=Strict"), "PatchOptions")
                .unwrap()
                .field_validation,
            FieldValidation::Strict
        );
        assert_eq!(
            WriteQuery::parse(&q("fieldValidation=Loud"), "PatchOptions")
                .unwrap_err()
                .code
                .as_u16(),
            422
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
        let parsed = DeleteQuery::parse(&q("propagationPolicy=Orphan"), Some(&body)).unwrap();
        assert_eq!(parsed.propagation_policy, Some(PropagationPolicy::Foreground));
        assert_eq!(parsed.precondition_resource_version.as_deref(), Some("7"));
        let err = DeleteQuery::parse(&q("propagationPolicy=Sometimes"), None).unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
    }
}
