//! The registry's errors, worded as kube-apiserver words them. Storage failures become API
//! errors in exactly one function, [`from_storage`]; the other constructors cover the failures
//! the registry itself detects.

use axum::http::StatusCode;
use prepull_api::field_error::{FieldError, FieldPath, invalid_status_message};
use prepull_api::{GROUP, Kind};
use prepull_storage::StorageError;

use crate::http::status::{ApiError, Cause, Subject};

/// The API group of list, watch and delete options.
const META_GROUP: &str = "meta.k8s.io";

/// What a failed storage call was doing, where that changes the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum During {
    /// Anything addressing one object, or a list from its first page.
    Request,
    /// A list continuing from a `continue` token.
    ContinuedList,
}

/// Translates a storage failure about `subject` into the status the client gets.
pub(crate) fn from_storage(err: StorageError, subject: &Subject, during: During) -> ApiError {
    match err {
        StorageError::NotFound { .. } => ApiError::not_found(subject),
        StorageError::AlreadyExists { .. } => ApiError::already_exists(subject),
        StorageError::Conflict { .. } => ApiError::conflict(subject, ApiError::STALE_OBJECT),
        StorageError::Expired { .. } if during == During::ContinuedList => ApiError::expired(
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter.",
        ),
        StorageError::Expired { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        StorageError::RevisionTooLarge { requested, current } => {
            let mut err = status(
                StatusCode::GATEWAY_TIMEOUT,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            );
            err.causes = vec![Cause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            }];
            err.retry_after_seconds = Some(1);
            err
        }
        StorageError::ValueTooLarge { .. } => status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            // kube-apiserver reports its request body limit, whatever the storage refused.
            "Request entity too large: limit is 3145728",
        ),
        StorageError::InvalidContinue { reason } => {
            ApiError::bad_request(format!("continue key is not valid: {reason}"))
        }
        StorageError::Unavailable { reason } => {
            tracing::warn!(%reason, "storage unavailable");
            ApiError::unavailable("storage is unavailable, please try again later")
        }
        StorageError::InsufficientStorage { path, reason } => {
            tracing::warn!(%reason, dir = %path.display(), "storage has no space left");
            status(
                StatusCode::INSUFFICIENT_STORAGE,
                "InsufficientStorage",
                format!(
                    "insufficient storage: no space left for the server's data directory {}; \
                     writes resume once space is freed there",
                    path.display()
                ),
            )
        }
        StorageError::NotLeader { reason } => {
            tracing::warn!(%reason, "a fenced write was refused: leadership ended");
            ApiError::unavailable(
                "this API server replica no longer leads the scheduler; the write was refused",
            )
        }
        StorageError::QuotaExceeded { reason } => {
            tracing::warn!(%reason, "etcd is over its space quota (NOSPACE alarm)");
            status(
                StatusCode::INSUFFICIENT_STORAGE,
                "InsufficientStorage",
                "insufficient storage: etcd's database is over its space quota (NOSPACE alarm); \
                 writes resume once etcd is compacted, defragmented and the alarm disarmed",
            )
        }
        err @ (StorageError::Corrupt { .. } | StorageError::Internal(_)) => ApiError::internal(err),
    }
}

/// The resource named in errors about `kind` objects: `imagepulljobs.apps.kruise.io "name"`.
pub(crate) fn subject(kind: Kind, name: &str) -> Subject {
    Subject::new(GROUP, kind.info().plural, name)
}

/// 422 for an object failing validation: `ImagePullJob.apps.kruise.io "x" is invalid: [...]`,
/// one cause per error.
pub(crate) fn invalid(kind: Kind, name: &str, errors: &[FieldError]) -> ApiError {
    invalid_of(kind.name(), GROUP, name, errors)
}

/// 422 for request options (`ListOptions`, `DeleteOptions`) that break Kubernetes' rules.
pub(crate) fn invalid_options(options_kind: &str, errors: &[FieldError]) -> ApiError {
    invalid_of(options_kind, META_GROUP, "", errors)
}

fn invalid_of(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> ApiError {
    let causes = errors
        .iter()
        .map(|e| Cause {
            reason: e.kind.reason().to_owned(),
            message: e.body(),
            field: e.field.clone(),
        })
        .collect();
    let mut err = ApiError::invalid(kind, &Subject::new(group, kind, name), causes);
    err.message = invalid_status_message(&format!("{kind}.{group}"), name, errors);
    err
}

/// 422 for a PUT without `metadata.resourceVersion`. kube-apiserver names the resource (not
/// the kind) and prints the zero version in Go's `%#v` form.
pub(crate) fn missing_resource_version(kind: Kind, name: &str) -> ApiError {
    let plural = kind.info().plural;
    let body = "Invalid value: 0x0: must be specified for an update";
    let mut err = ApiError::invalid(
        plural,
        &Subject::new(GROUP, plural, name),
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message: body.into(),
            field: "metadata.resourceVersion".into(),
        }],
    );
    err.message = format!("{plural}.{GROUP} {name:?} is invalid: metadata.resourceVersion: {body}");
    err
}

/// 403 for a kind whose feature gate is off.
pub(crate) fn feature_gate_disabled(gate: &str) -> ApiError {
    ApiError::forbidden(format!("feature-gate {gate} is not enabled"))
}

/// 409 when every generated name was taken.
pub(crate) fn generate_name_conflict(kind: Kind, name: &str) -> ApiError {
    let subject = subject(kind, name);
    let mut err = ApiError::already_exists(&subject);
    err.message = format!(
        "{}.{GROUP} {name:?} already exists, the server was not able to generate a unique name for the object",
        kind.info().plural
    );
    err.retry_after_seconds = Some(1);
    err
}

/// 409 for a create that hit an object still held by finalizers.
pub(crate) fn already_exists_deleting(kind: Kind, name: &str) -> ApiError {
    let mut err = ApiError::already_exists(&subject(kind, name));
    err.message = format!("object is being deleted: {}", err.message);
    err
}

/// 409 for a failed delete precondition. kube-apiserver names the kind here
/// (`ImagePullJob.apps.kruise.io "x"`), not the resource.
pub(crate) fn precondition_failed(kind: Kind, name: &str, detail: &str) -> ApiError {
    ApiError::conflict(&Subject::new(GROUP, kind.name(), name), detail)
}

/// 422 for a patch whose result cannot be decoded or breaks strict field validation: kube's
/// `"" is invalid: patch: Invalid value: "<patched object>": <detail>`.
pub(crate) fn invalid_patch_result(patched: &str, detail: &str) -> ApiError {
    let body = format!("Invalid value: {patched:?}: {detail}");
    let mut err = status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!(" \"\" is invalid: patch: {body}"),
    );
    err.causes = vec![Cause {
        reason: "FieldValueInvalid".into(),
        message: body,
        field: "patch".into(),
    }];
    err
}

/// 413 for a JSON patch whose copies would grow the object past `limit` bytes.
pub(crate) fn patch_too_large(limit: usize) -> ApiError {
    ApiError::entity_too_large(format!(
        "the patched object would exceed {limit} bytes (a JSON patch's copy operations)"
    ))
}

/// 422 for a JSON patch operation that cannot be applied (a failed `test`, a missing path).
pub(crate) fn patch_not_applicable(detail: String) -> ApiError {
    let mut err = status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        "the server rejected our request due to an error in our request",
    );
    err.causes = vec![Cause {
        reason: "UnexpectedServerResponse".into(),
        message: detail,
        field: String::new(),
    }];
    err
}

/// 409 for a server-side apply that would change fields other managers own: `message` in
/// kube-apiserver's words, one `FieldManagerConflict` cause per field.
pub(crate) fn apply_conflict(message: String, conflicts: Vec<(String, String)>) -> ApiError {
    let mut err = status(StatusCode::CONFLICT, "Conflict", message);
    err.causes = conflicts
        .into_iter()
        .map(|(manager, field)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {manager}"),
            field,
        })
        .collect();
    err
}

/// 422 for an apply patch without `fieldManager`.
pub(crate) fn apply_needs_field_manager() -> ApiError {
    invalid_options(
        "PatchOptions",
        &[FieldError::required(
            &FieldPath::new("fieldManager"),
            "is required for apply patch",
        )],
    )
}

/// 422 for `force` on a patch that is not an apply patch.
pub(crate) fn force_needs_apply() -> ApiError {
    invalid_options(
        "PatchOptions",
        &[FieldError::forbidden(
            &FieldPath::new("force"),
            "may not be specified for non-apply patch",
        )],
    )
}

/// 413 for a JSON patch with too many operations.
pub(crate) fn too_many_patch_operations(limit: usize, got: usize) -> ApiError {
    status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!(
            "Request entity too large: The allowed maximum operations in a JSON patch is {limit}, got {got}"
        ),
    )
}

/// 500 for stored bytes the registry cannot read; the details go to the log only.
pub(crate) fn corrupt_object(key: &str, reason: &str) -> ApiError {
    ApiError::internal(format!("stored object {key} is unreadable: {reason}"))
}

/// A status with no details, built through a public constructor so this file does not
/// depend on how `ApiError` stores its details.
fn status(code: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
    let mut err = ApiError::bad_request(message);
    err.code = code;
    err.reason = reason;
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::field_error::FieldPath;

    fn job(name: &str) -> Subject {
        subject(Kind::ImagePullJob, name)
    }

    #[test]
    fn storage_errors_read_like_kube_apiserver() {
        let conflict = from_storage(
            StorageError::Conflict {
                key: "/k".into(),
                expected: 1,
                current: None,
            },
            &job("x"),
            During::Request,
        );
        assert_eq!(conflict.code, StatusCode::CONFLICT);
        assert_eq!(
            conflict.message,
            "Operation cannot be fulfilled on imagepulljobs.apps.kruise.io \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let expired = from_storage(
            StorageError::Expired {
                requested: 5,
                oldest: 90,
            },
            &job(""),
            During::Request,
        );
        assert_eq!((expired.code.as_u16(), expired.reason), (410, "Expired"));
        assert_eq!(expired.message, "too old resource version: 5 (90)");
        let too_large = from_storage(
            StorageError::ValueTooLarge {
                key: "/k".into(),
                size: 2,
                limit: 1,
            },
            &job("x"),
            During::Request,
        );
        assert_eq!(too_large.code.as_u16(), 413);
        assert_eq!(
            too_large.message,
            "Request entity too large: limit is 3145728"
        );
        let future = from_storage(
            StorageError::RevisionTooLarge {
                requested: 9,
                current: 3,
            },
            &job(""),
            During::Request,
        );
        assert_eq!(future.code.as_u16(), 504);
        assert!(future.message.starts_with("Too large resource version"));
        let continued = from_storage(
            StorageError::Expired {
                requested: 5,
                oldest: 90,
            },
            &job(""),
            During::ContinuedList,
        );
        assert!(
            continued
                .message
                .starts_with("The provided continue parameter is too old")
        );
    }

    #[test]
    fn a_full_disk_is_507_naming_the_data_directory() {
        let err = from_storage(
            StorageError::InsufficientStorage {
                path: "/var/lib/prepull/store".into(),
                reason: "No space left on device (os error 28)".into(),
            },
            &job("x"),
            During::Request,
        );
        assert_eq!(
            (err.code.as_u16(), err.reason),
            (507, "InsufficientStorage")
        );
        assert!(
            err.message.contains("/var/lib/prepull/store"),
            "{}",
            err.message
        );
    }

    #[test]
    fn etcd_over_its_quota_is_507_saying_what_frees_it() {
        let err = from_storage(
            StorageError::QuotaExceeded {
                reason: "etcdserver: mvcc: database space exceeded".into(),
            },
            &job("x"),
            During::Request,
        );
        assert_eq!(
            (err.code.as_u16(), err.reason),
            (507, "InsufficientStorage")
        );
        assert!(err.message.contains("NOSPACE"), "{}", err.message);
    }

    #[test]
    fn internal_storage_failures_do_not_leak() {
        let err = from_storage(
            StorageError::Corrupt {
                key: "/secret/key".into(),
                reason: "bad crc".into(),
            },
            &job("x"),
            During::Request,
        );
        assert_eq!(err.code.as_u16(), 500);
        assert!(!err.message.contains("secret"));
    }

    #[test]
    fn invalid_objects_list_every_cause_with_body_only_messages() {
        let errors = vec![
            FieldError::required(&FieldPath::new("spec").child("image"), ""),
            FieldError::invalid(
                &FieldPath::new("spec").child("parallelism"),
                -1,
                "must be >= 0",
            ),
        ];
        let err = invalid(Kind::ImagePullJob, "x", &errors);
        assert_eq!(err.code, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.message,
            "ImagePullJob.apps.kruise.io \"x\" is invalid: [spec.image: Required value, spec.parallelism: Invalid value: -1: must be >= 0]"
        );
        assert_eq!(err.causes[0].message, "Required value");
        assert_eq!(err.causes[1].field, "spec.parallelism");
        assert_eq!(err.status()["details"]["kind"], "ImagePullJob");
    }

    #[test]
    fn a_put_without_resource_version_names_the_resource() {
        let err = missing_resource_version(Kind::ImagePullJob, "x");
        assert_eq!(
            err.message,
            "imagepulljobs.apps.kruise.io \"x\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        );
        assert_eq!(err.code.as_u16(), 422);
    }
}
