//! Field-level validation errors, worded exactly as Kubernetes words them.
//!
//! This mirrors `k8s.io/apimachinery/pkg/util/validation/field`: a [`FieldPath`] names the
//! offending field (`spec.selector.matchExpressions[0].values`), a [`FieldError`] says what is
//! wrong with it, and [`invalid_status_message`] folds a list of errors into the message of a
//! `422 Invalid` status (`ImagePullJob.apps.kruise.io "x" is invalid: [...]`). Clients such as
//! kubectl show these texts verbatim, so the wording is part of the API.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause;
use serde_json::Value;

/// Why a field is invalid. Each kind maps 1:1 onto a metav1 `CauseType` ([`Self::reason`]) and
/// onto the human text that starts the error body ([`Self::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    /// A required value is missing (empty string, null, empty list).
    Required,
    /// A malformed value (regex mismatch, out of range, ...).
    Invalid,
    /// A value outside an enumeration.
    NotSupported,
    /// A well-formed value that is not allowed here.
    Forbidden,
    /// A value that must be unique appears twice.
    Duplicate,
    /// A list has too many items.
    TooMany,
    /// A value is too long; the value itself is never echoed.
    TooLong,
    /// A referenced value does not exist.
    NotFound,
}

impl FieldErrorType {
    /// The metav1 `StatusCause.reason` for this kind, e.g. `FieldValueRequired`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooMany => "FieldValueTooMany",
            Self::TooLong => "FieldValueTooLong",
            Self::NotFound => "FieldValueNotFound",
        }
    }

    /// The text Kubernetes prints for this kind, e.g. `Required value`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::TooMany => "Too many",
            Self::TooLong => "Too long",
            Self::NotFound => "Not found",
        }
    }

    /// Whether the error body echoes the bad value (Kubernetes never echoes it for required,
    /// forbidden and too-long errors).
    fn shows_value(self) -> bool {
        !matches!(self, Self::Required | Self::Forbidden | Self::TooLong)
    }
}

impl fmt::Display for FieldErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Child(String),
    Subscript(String),
}

/// A path to a field inside an object, printed the way Kubernetes prints it:
/// children joined with `.`, list indexes and map keys in brackets (`spec.selector[0][k]`).
///
/// Builder methods take `&self` and return a new path, so a parent path can be reused for
/// several children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

impl FieldPath {
    /// A path starting at the top-level field `name` (e.g. `metadata`, `spec`).
    pub fn new(name: &str) -> Self {
        Self {
            segments: vec![Segment::Child(name.to_owned())],
        }
    }

    /// The path of the child field `name`.
    pub fn child(&self, name: &str) -> Self {
        self.with(Segment::Child(name.to_owned()))
    }

    /// The path of list item `index`.
    pub fn index(&self, index: usize) -> Self {
        self.with(Segment::Subscript(index.to_string()))
    }

    /// The path of map entry `key`.
    pub fn key(&self, key: &str) -> Self {
        self.with(Segment::Subscript(key.to_owned()))
    }

    fn with(&self, segment: Segment) -> Self {
        let mut segments = self.segments.clone();
        segments.push(segment);
        Self { segments }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Child(name) if name.is_empty() => {}
                Segment::Child(name) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                Segment::Subscript(sub) => write!(f, "[{sub}]")?,
            }
        }
        Ok(())
    }
}

/// One field-level validation error.
///
/// `field` is the rendered [`FieldPath`]; `value` is the offending value when the error kind
/// echoes it (`None` renders as just the kind text, like Go's omitted value).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.message())]
pub struct FieldError {
    /// What kind of problem this is.
    pub kind: FieldErrorType,
    /// The path of the offending field, e.g. `spec.selector.names[1]`.
    pub field: String,
    /// The offending value, echoed in the message for kinds that show values.
    pub value: Option<Value>,
    /// Extra explanation appended after the value.
    pub detail: String,
}

impl FieldError {
    fn new(kind: FieldErrorType, path: &FieldPath, value: Option<Value>, detail: String) -> Self {
        Self {
            kind,
            field: path.to_string(),
            value,
            detail,
        }
    }

    /// A missing required value: `spec.image: Required value[: detail]`.
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Required, path, None, detail.into())
    }

    /// A malformed value: `path: Invalid value: "v": detail`.
    pub fn invalid(path: &FieldPath, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Invalid,
            path,
            Some(value.into()),
            detail.into(),
        )
    }

    /// A value outside an enumeration: `path: Unsupported value: "v": supported values: "A", "B"`.
    pub fn not_supported(path: &FieldPath, value: impl Into<Value>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            FieldErrorType::NotSupported,
            path,
            Some(value.into()),
            detail,
        )
    }

    /// A value not permitted here: `path: Forbidden: detail`.
    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Forbidden, path, None, detail.into())
    }

    /// A value that must be unique but is not: `path: Duplicate value: "v"`.
    pub fn duplicate(path: &FieldPath, value: impl Into<Value>) -> Self {
        Self::new(
            FieldErrorType::Duplicate,
            path,
            Some(value.into()),
            String::new(),
        )
    }

    /// A referenced value that does not exist: `path: Not found: "v"`.
    pub fn not_found(path: &FieldPath, value: impl Into<Value>) -> Self {
        Self::new(
            FieldErrorType::NotFound,
            path,
            Some(value.into()),
            String::new(),
        )
    }

    /// A list with `actual` items where at most `max` are allowed:
    /// `path: Too many: 300: must have at most 256 items`.
    pub fn too_many(path: &FieldPath, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            FieldErrorType::TooMany,
            path,
            Some(Value::from(actual)),
            format!("must have at most {max} {unit}"),
        )
    }

    /// A value longer than `max_bytes` (the value is not echoed):
    /// `path: Too long: may not be more than 262144 bytes`.
    pub fn too_long(path: &FieldPath, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self::new(
            FieldErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// The message without the field path (Go's `ErrorBody`); this is the `message` of a
    /// status cause.
    pub fn body(&self) -> String {
        let mut body = self.kind.as_str().to_owned();
        if self.kind.shows_value()
            && let Some(value) = &self.value
        {
            body.push_str(": ");
            body.push_str(&render_value(value));
        }
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }

    /// The full message, `field: body`, exactly as Kubernetes prints it.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    /// This error as a metav1 `StatusCause` (`reason`, `message` = body, `field`).
    pub fn cause(&self) -> StatusCause {
        StatusCause {
            field: Some(self.field.clone()),
            message: Some(self.body()),
            reason: Some(self.kind.reason().to_owned()),
        }
    }
}

/// Renders a bad value like Go's field errors do: strings quoted (`%q`), numbers and booleans
/// bare, anything else as compact JSON.
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        // Go's json.Marshal escapes HTML-sensitive characters; they only occur inside strings.
        other => other
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
    }
}

/// Quotes a string the way Go's `strconv.Quote` does for the characters that matter here.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The aggregate text of an error list (Go's `ErrorList.ToAggregate().Error()`): duplicate
/// messages are dropped, a single message stands alone, several are joined as `[a, b]`.
/// Returns `None` for an empty list.
pub fn aggregate_message(errors: &[FieldError]) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for error in errors {
        let message = error.message();
        if !seen.contains(&message) {
            seen.push(message);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

/// The `message` of a `422 Invalid` status, as kube-apiserver's `NewInvalid` builds it:
/// `<Kind>.<group> "<name>" is invalid: <aggregate>` (or without the `: ...` tail when there
/// are no errors). `group_kind` is `Kind.group`, e.g. `ImagePullJob.apps.kruise.io`.
pub fn invalid_status_message(group_kind: &str, name: &str, errors: &[FieldError]) -> String {
    let name = go_quote(name);
    match aggregate_message(errors) {
        Some(aggregate) => format!("{group_kind} {name} is invalid: {aggregate}"),
        None => format!("{group_kind} {name} is invalid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> FieldPath {
        FieldPath::new("spec")
    }

    #[test]
    fn paths_join_children_with_dots_and_subscripts_with_brackets() {
        let path = spec().child("selector").index(0).key("k");
        assert_eq!(path.to_string(), "spec.selector[0][k]");
        let nested = FieldPath::new("spec")
            .child("selector")
            .child("matchExpressions")
            .index(2)
            .child("values");
        assert_eq!(
            nested.to_string(),
            "spec.selector.matchExpressions[2].values"
        );
    }

    #[test]
    fn a_parent_path_can_be_reused_for_several_children() {
        let parent = spec();
        assert_eq!(parent.child("a").to_string(), "spec.a");
        assert_eq!(parent.child("b").to_string(), "spec.b");
        assert_eq!(parent.to_string(), "spec");
    }

    #[test]
    fn required_errors_print_only_the_kind_and_detail() {
        let err = FieldError::required(&spec().child("image"), "");
        assert_eq!(err.message(), "spec.image: Required value");
        let err = FieldError::required(
            &FieldPath::new("metadata").child("name"),
            "name or generateName is required",
        );
        assert_eq!(
            err.message(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(err.kind.reason(), "FieldValueRequired");
    }

    #[test]
    fn invalid_errors_quote_strings_and_print_objects_as_json() {
        let err = FieldError::invalid(
            &spec().child("selector"),
            json!({"names": ["a"]}),
            "can not set both names and labelSelector",
        );
        assert_eq!(
            err.message(),
            r#"spec.selector: Invalid value: {"names":["a"]}: can not set both names and labelSelector"#
        );
        let err = FieldError::invalid(&spec().child("image"), "a\"b", "bad");
        assert_eq!(err.message(), r#"spec.image: Invalid value: "a\"b": bad"#);
    }

    #[test]
    fn object_values_escape_html_characters_like_go_json() {
        let err = FieldError::invalid(&spec().child("x"), json!(["a<b>&c"]), "bad");
        assert_eq!(
            err.message(),
            r#"spec.x: Invalid value: ["a\u003cb\u003e\u0026c"]: bad"#
        );
    }

    #[test]
    fn invalid_errors_print_numbers_and_booleans_bare() {
        let err = FieldError::invalid(&spec().child("parallelism"), -1, "must be >= 0");
        assert_eq!(
            err.message(),
            "spec.parallelism: Invalid value: -1: must be >= 0"
        );
        let err = FieldError::invalid(&spec().child("x"), true, "no");
        assert_eq!(err.message(), "spec.x: Invalid value: true: no");
    }

    #[test]
    fn not_supported_errors_list_the_supported_values_quoted() {
        let err = FieldError::not_supported(
            &spec().child("imagePullPolicy"),
            "Sometimes",
            &["Always", "IfNotPresent"],
        );
        assert_eq!(
            err.message(),
            r#"spec.imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent""#
        );
        assert_eq!(err.kind.reason(), "FieldValueNotSupported");
    }

    #[test]
    fn forbidden_duplicate_and_not_found_errors_follow_kubernetes_wording() {
        let ns = FieldPath::new("metadata").child("namespace");
        assert_eq!(
            FieldError::forbidden(&ns, "not allowed on this type").message(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        let names = spec().child("selector").child("names").index(1);
        assert_eq!(
            FieldError::duplicate(&names, "node-a").message(),
            r#"spec.selector.names[1]: Duplicate value: "node-a""#
        );
        assert_eq!(
            FieldError::not_found(&spec().child("x"), "y").message(),
            r#"spec.x: Not found: "y""#
        );
    }

    #[test]
    fn too_many_echoes_the_count_and_too_long_hides_the_value() {
        assert_eq!(
            FieldError::too_many(&spec().child("images"), 300, 256).message(),
            "spec.images: Too many: 300: must have at most 256 items"
        );
        assert_eq!(
            FieldError::too_many(&spec().child("images"), 2, 1).message(),
            "spec.images: Too many: 2: must have at most 1 item"
        );
        assert_eq!(
            FieldError::too_long(&FieldPath::new("metadata").child("annotations"), 262144)
                .message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn every_kind_has_its_cause_reason_and_text() {
        let table = [
            (
                FieldErrorType::Required,
                "FieldValueRequired",
                "Required value",
            ),
            (
                FieldErrorType::Invalid,
                "FieldValueInvalid",
                "Invalid value",
            ),
            (
                FieldErrorType::NotSupported,
                "FieldValueNotSupported",
                "Unsupported value",
            ),
            (
                FieldErrorType::Forbidden,
                "FieldValueForbidden",
                "Forbidden",
            ),
            (
                FieldErrorType::Duplicate,
                "FieldValueDuplicate",
                "Duplicate value",
            ),
            (FieldErrorType::TooMany, "FieldValueTooMany", "Too many"),
            (FieldErrorType::TooLong, "FieldValueTooLong", "Too long"),
            (FieldErrorType::NotFound, "FieldValueNotFound", "Not found"),
        ];
        for (kind, reason, text) in table {
            assert_eq!(kind.reason(), reason);
            assert_eq!(kind.to_string(), text);
        }
    }

    #[test]
    fn a_status_cause_carries_reason_body_and_field() {
        let err = FieldError::required(&spec().child("image"), "");
        let cause = err.cause();
        assert_eq!(cause.reason.as_deref(), Some("FieldValueRequired"));
        assert_eq!(cause.message.as_deref(), Some("Required value"));
        assert_eq!(cause.field.as_deref(), Some("spec.image"));
    }

    #[test]
    fn the_invalid_status_message_has_no_brackets_for_a_single_error() {
        let errs = [FieldError::required(&spec().child("image"), "")];
        assert_eq!(
            invalid_status_message("ImagePullJob.apps.kruise.io", "job", &errs),
            r#"ImagePullJob.apps.kruise.io "job" is invalid: spec.image: Required value"#
        );
    }

    #[test]
    fn the_invalid_status_message_brackets_several_errors_and_drops_repeats() {
        let image = FieldError::required(&spec().child("image"), "");
        let parallelism = FieldError::invalid(&spec().child("parallelism"), "50%", "bad");
        let errs = [image.clone(), parallelism, image];
        assert_eq!(
            invalid_status_message("ImagePullJob.apps.kruise.io", "job", &errs),
            r#"ImagePullJob.apps.kruise.io "job" is invalid: [spec.image: Required value, spec.parallelism: Invalid value: "50%": bad]"#
        );
        let twice = [
            FieldError::required(&spec().child("image"), ""),
            FieldError::required(&spec().child("image"), ""),
        ];
        assert_eq!(
            aggregate_message(&twice).as_deref(),
            Some("spec.image: Required value")
        );
    }

    #[test]
    fn the_invalid_status_message_without_errors_has_no_tail() {
        assert_eq!(
            invalid_status_message("NodeImage.apps.kruise.io", "n1", &[]),
            r#"NodeImage.apps.kruise.io "n1" is invalid"#
        );
        assert_eq!(aggregate_message(&[]), None);
    }

    #[test]
    fn go_quoting_escapes_control_characters() {
        assert_eq!(go_quote("a\nb\u{1}"), r#""a\nb\x01""#);
        assert_eq!(go_quote("ü"), "\"ü\"");
    }
}
