//! API errors and their one translation into `metav1.Status` responses.
//!
//! Every failure a handler can meet becomes an [`ApiError`]; [`ApiError::into_response`] is the
//! only place that turns one into HTTP. Message texts follow kube-apiserver's, so clients and
//! people see what they are used to.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A resource named in an error: `imagepulljobs.apps.kruise.io "name"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    /// The plural resource name, as kube-apiserver puts it in `details.kind`.
    pub resource: String,
    pub name: String,
}

impl Subject {
    pub fn new(group: &str, resource: &str, name: &str) -> Subject {
        Subject {
            group: group.into(),
            resource: resource.into(),
            name: name.into(),
        }
    }

    fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// One cause of an Invalid (422) or strict-decoding error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A failed request, as the client will see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: StatusCode,
    /// The metav1.StatusReason (`NotFound`, `Invalid`, ...).
    pub reason: &'static str,
    pub message: String,
    pub subject: Option<Subject>,
    /// `details.kind` when it is a kind rather than a resource (Invalid errors).
    pub details_kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            subject: None,
            details_kind: None,
            causes: Vec::new(),
            retry_after_seconds: None,
        }
    }

    fn about(mut self, subject: &Subject) -> ApiError {
        self.subject = Some(subject.clone());
        self
    }

    /// 404: `imagepulljobs.apps.kruise.io "x" not found`.
    pub fn not_found(subject: &Subject) -> ApiError {
        let message = format!(
            "{} {:?} not found",
            subject.qualified_resource(),
            subject.name
        );
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message).about(subject)
    }

    /// 404 for a path that names no resource at all.
    pub fn path_not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409: the object already exists.
    pub fn already_exists(subject: &Subject) -> ApiError {
        let message = format!(
            "{} {:?} already exists",
            subject.qualified_resource(),
            subject.name
        );
        ApiError::new(StatusCode::CONFLICT, "AlreadyExists", message).about(subject)
    }

    /// 409: optimistic concurrency lost.
    pub fn conflict(subject: &Subject, detail: &str) -> ApiError {
        let message = format!(
            "Operation cannot be fulfilled on {} {:?}: {detail}",
            subject.qualified_resource(),
            subject.name
        );
        ApiError::new(StatusCode::CONFLICT, "Conflict", message).about(subject)
    }

    /// The standard Conflict detail for a stale resourceVersion.
    pub const STALE_OBJECT: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422: `ImagePullJob.apps.kruise.io "x" is invalid: [cause, cause]`.
    pub fn invalid(kind: &str, subject: &Subject, causes: Vec<Cause>) -> ApiError {
        let qualified = format!("{kind}.{}", subject.group);
        let joined = match causes.as_slice() {
            [one] => one.message.clone(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|c| c.message.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let message = format!("{qualified} {:?} is invalid: {joined}", subject.name);
        let mut err =
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).about(subject);
        err.details_kind = Some(kind.to_string());
        err.causes = causes;
        err
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 401: the client could not be authenticated.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    /// 403 with kube-apiserver's text.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 403 about one object, as kube-apiserver's `NewForbidden`:
    /// `nodeimages.apps.kruise.io "n2" is forbidden: <reason>`.
    pub fn forbidden_object(subject: &Subject, reason: &str) -> ApiError {
        let message = format!(
            "{} {:?} is forbidden: {reason}",
            subject.qualified_resource(),
            subject.name
        );
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message).about(subject)
    }

    /// 405 for a method the path does not serve, with kube-apiserver's generic text.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 405.
    pub fn method_not_supported(method: &str, what: &str) -> ApiError {
        let message = format!("{method} is not supported on {what}");
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    /// 406.
    pub fn not_acceptable(accepted: &[&str]) -> ApiError {
        let message = format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        );
        ApiError::new(StatusCode::NOT_ACCEPTABLE, "NotAcceptable", message)
    }

    /// 406 with a specific explanation (a conversion the object cannot undergo).
    pub fn not_acceptable_because(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_ACCEPTABLE, "NotAcceptable", message)
    }

    /// 415.
    pub fn unsupported_media_type(content_type: &str, supported: &[&str]) -> ApiError {
        let message = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            supported.join(", ")
        );
        let _ = content_type;
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }

    /// 413: `Request entity too large: limit is 3145728`, as kube-apiserver words it.
    pub fn too_large(limit_bytes: usize) -> ApiError {
        ApiError::entity_too_large(format!("limit is {limit_bytes}"))
    }

    /// 413 with kube-apiserver's prefix: `Request entity too large: <detail>`.
    pub fn entity_too_large(detail: impl std::fmt::Display) -> ApiError {
        let message = format!("Request entity too large: {detail}");
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            message,
        )
    }

    /// 410: a resourceVersion or continue token that is no longer retained.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, "Expired", message)
    }

    /// 429 with Retry-After.
    pub fn too_many_requests(retry_after_seconds: u32) -> ApiError {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        err.retry_after_seconds = Some(retry_after_seconds);
        err
    }

    /// 504.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GATEWAY_TIMEOUT, "Timeout", message)
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }

    /// 500. The reason is logged, never sent: clients get a generic message.
    pub fn internal(reason: impl std::fmt::Display) -> ApiError {
        tracing::error!(%reason, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "an internal error occurred; see the server log",
        )
    }

    /// The `metav1.Status` body. Messages are bounded excerpts ([`MAX_MESSAGE_BYTES`] for the
    /// message, [`MAX_CAUSE_BYTES`] per cause, at most [`MAX_CAUSES`] causes): an error never
    /// echoes back the whole of what it refuses.
    pub fn status(&self) -> serde_json::Value {
        let mut status = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": excerpt(&self.message, MAX_MESSAGE_BYTES),
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        let mut details = serde_json::Map::new();
        if let Some(subject) = &self.subject {
            if !subject.name.is_empty() {
                details.insert("name".into(), subject.name.clone().into());
            }
            if !subject.group.is_empty() {
                details.insert("group".into(), subject.group.clone().into());
            }
            let kind = self
                .details_kind
                .clone()
                .unwrap_or_else(|| subject.resource.clone());
            details.insert("kind".into(), kind.into());
        }
        if !self.causes.is_empty() {
            let causes: Vec<Cause> = self
                .causes
                .iter()
                .take(MAX_CAUSES)
                .map(|cause| Cause {
                    reason: excerpt(&cause.reason, MAX_CAUSE_BYTES).into_owned(),
                    message: excerpt(&cause.message, MAX_CAUSE_BYTES).into_owned(),
                    field: excerpt(&cause.field, MAX_CAUSE_BYTES).into_owned(),
                })
                .collect();
            details.insert(
                "causes".into(),
                serde_json::to_value(&causes).expect("causes serialize"),
            );
        }
        if let Some(seconds) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), seconds.into());
        }
        if !details.is_empty() {
            status["details"] = details.into();
        }
        status
    }
}

/// Longest `message` of a Status, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest text of one cause, in bytes.
pub const MAX_CAUSE_BYTES: usize = 1024;
/// Most causes a Status lists.
pub const MAX_CAUSES: usize = 100;

/// `text` cut to at most `max` bytes (at a character boundary), saying how much was left out.
fn excerpt(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes)", &text[..end], text.len() - end).into()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.status()).expect("status serializes");
        let mut response = (self.code, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_echoes_only_an_excerpt_of_what_it_refuses() {
        let huge = format!("invalid value: \"{}\"", "é".repeat(1_000_000));
        let mut err = ApiError::bad_request(huge.clone());
        err.causes = (0..1000)
            .map(|_| Cause {
                reason: "FieldValueInvalid".into(),
                message: huge.clone(),
                field: "metadata.annotations".into(),
            })
            .collect();
        let body = serde_json::to_vec(&err.status()).unwrap();
        assert!(body.len() < 200_000, "{} bytes", body.len());
        let status = err.status();
        let message = status["message"].as_str().unwrap();
        assert!(message.len() < MAX_MESSAGE_BYTES + 40);
        assert!(
            message.ends_with("more bytes)"),
            "{}",
            &message[message.len() - 40..]
        );
        assert_eq!(
            status["details"]["causes"].as_array().unwrap().len(),
            MAX_CAUSES
        );
    }

    fn job(name: &str) -> Subject {
        Subject::new("apps.kruise.io", "imagepulljobs", name)
    }

    #[test]
    fn not_found_reads_like_kube_apiserver() {
        let status = ApiError::not_found(&job("x")).status();
        assert_eq!(
            status["message"],
            r#"imagepulljobs.apps.kruise.io "x" not found"#
        );
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(
            status["details"],
            serde_json::json!({"name": "x", "group": "apps.kruise.io", "kind": "imagepulljobs"})
        );
    }

    #[test]
    fn conflict_carries_the_standard_text() {
        let err = ApiError::conflict(&job("x"), ApiError::STALE_OBJECT);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on imagepulljobs.apps.kruise.io \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(err.code, StatusCode::CONFLICT);
    }

    #[test]
    fn invalid_lists_every_cause_in_the_message_and_details() {
        let causes = vec![
            Cause {
                reason: "FieldValueRequired".into(),
                message: "spec.image: Required value".into(),
                field: "spec.image".into(),
            },
            Cause {
                reason: "FieldValueInvalid".into(),
                message: "spec.parallelism: Invalid value: -1: must be >= 0".into(),
                field: "spec.parallelism".into(),
            },
        ];
        let status = ApiError::invalid("ImagePullJob", &job("x"), causes).status();
        assert_eq!(
            status["message"],
            "ImagePullJob.apps.kruise.io \"x\" is invalid: [spec.image: Required value, spec.parallelism: Invalid value: -1: must be >= 0]"
        );
        assert_eq!(status["details"]["kind"], "ImagePullJob");
        assert_eq!(status["details"]["causes"][1]["field"], "spec.parallelism");
        assert_eq!(status["code"], 422);
    }

    #[test]
    fn internal_errors_do_not_leak_the_reason() {
        let status = ApiError::internal("etcd said something secret").status();
        assert!(!status["message"].as_str().unwrap().contains("secret"));
    }
}
