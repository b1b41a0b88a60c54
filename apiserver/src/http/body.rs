//! Request bodies: the size limit, the media types we read, and the patch types.
//!
//! Bodies are read whole, up to [`MAX_BODY_BYTES`] (kube-apiserver's 3 MiB; more is 413).
//! Objects (create, update) arrive as JSON or YAML and leave here as JSON bytes, so the
//! registry's strict decoder still sees duplicate keys of a JSON body. Patches arrive as JSON
//! patch or JSON merge patch; strategic merge patch and server-side apply are answered 415
//! with kube-apiserver's message until they are implemented.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use serde_json::Value;

use super::status::ApiError;

/// Largest request body accepted (kube-apiserver's `--max-request-body-bytes` default).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Media types accepted for objects (create, update, delete options).
pub const OBJECT_MEDIA_TYPES: &[&str] = &["application/json", "application/yaml"];

/// Patch media types accepted, as listed in 415 answers and in the OpenAPI PATCH operation.
pub const PATCH_MEDIA_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
];

/// kube-apiserver's limit on the operations of one JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// A patch, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchBody {
    /// RFC 6902: an array of operations.
    Json(Value),
    /// RFC 7386: a partial object.
    Merge(Value),
}

/// Reads a whole body, refusing more than [`MAX_BODY_BYTES`] with 413.
pub async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|err| {
            if is_length_limit(&err) {
                ApiError::too_large(MAX_BODY_BYTES)
            } else {
                ApiError::bad_request(format!("unable to read the request body: {err}"))
            }
        })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The essence of a `Content-Type` value: `application/json; charset=utf-8` ->
/// `application/json`. A missing header reads as JSON, as kube-apiserver defaults to its
/// first supported type.
fn media_type(content_type: Option<&HeaderValue>) -> String {
    content_type
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/json".to_string())
}

/// An object body (create, update) as JSON bytes: JSON is passed through untouched, YAML is
/// converted. Other media types are 415; malformed YAML is 400.
pub fn object_json(content_type: Option<&HeaderValue>, raw: Bytes) -> Result<Bytes, ApiError> {
    match media_type(content_type).as_str() {
        "application/json" | "*/*" => Ok(raw),
        "application/yaml" => yaml_to_json(&raw),
        other => Err(ApiError::unsupported_media_type(other, OBJECT_MEDIA_TYPES)),
    }
}

/// An optional `DeleteOptions` body: empty means none.
pub fn optional_object(
    content_type: Option<&HeaderValue>,
    raw: Bytes,
) -> Result<Option<Value>, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = object_json(content_type, raw)?;
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|err| ApiError::bad_request(format!("error decoding the request body: {err}")))
}

fn yaml_to_json(raw: &[u8]) -> Result<Bytes, ApiError> {
    let value: Value = serde_norway::from_slice(raw).map_err(|err| {
        ApiError::bad_request(format!("error converting YAML to JSON: yaml: {err}"))
    })?;
    let json = serde_json::to_vec(&value).map_err(ApiError::internal)?;
    Ok(Bytes::from(json))
}

/// A patch body, by its `Content-Type`: JSON patch or merge patch. Strategic merge patch,
/// server-side apply and anything else are 415 listing [`PATCH_MEDIA_TYPES`]; a body that is
/// not JSON, or a JSON patch that is not a list of operations, is 400; more than
/// [`MAX_JSON_PATCH_OPERATIONS`] operations is 413.
pub fn patch(content_type: Option<&HeaderValue>, raw: &[u8]) -> Result<PatchBody, ApiError> {
    let media_type = content_type
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media_type.as_str() {
        "application/json-patch+json" => {
            let value: Value = serde_json::from_slice(raw)
                .map_err(|err| ApiError::bad_request(format!("error decoding patch: {err}")))?;
            let operations = serde_json::from_value::<json_patch::Patch>(value.clone())
                .map_err(|err| ApiError::bad_request(format!("error decoding patch: {err}")))?;
            if operations.0.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(ApiError::entity_too_large(format!(
                    "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                    operations.0.len()
                )));
            }
            Ok(PatchBody::Json(value))
        }
        "application/merge-patch+json" => serde_json::from_slice(raw)
            .map(PatchBody::Merge)
            .map_err(|err| ApiError::bad_request(format!("error decoding patch: {err}"))),
        other => Err(ApiError::unsupported_media_type(other, PATCH_MEDIA_TYPES)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(value: &str) -> Option<HeaderValue> {
        Some(HeaderValue::from_str(value).unwrap())
    }

    #[test]
    fn yaml_bodies_become_json() {
        let json = object_json(
            ct("application/yaml").as_ref(),
            Bytes::from_static(b"apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: n1\n"),
        )
        .unwrap();
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["metadata"]["name"], "n1");
    }

    #[test]
    fn json_bodies_pass_untouched_so_duplicate_keys_stay_visible() {
        let raw = Bytes::from_static(br#"{"a":1,"a":2}"#);
        assert_eq!(
            object_json(ct("application/json; charset=utf-8").as_ref(), raw.clone()).unwrap(),
            raw
        );
        assert_eq!(object_json(None, raw.clone()).unwrap(), raw);
    }

    #[test]
    fn other_object_media_types_are_415_with_the_accepted_list() {
        let err = object_json(ct("text/plain").as_ref(), Bytes::new()).unwrap_err();
        assert_eq!(err.code.as_u16(), 415);
        assert_eq!(
            err.message,
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        );
    }

    #[test]
    fn strategic_merge_and_apply_patches_are_415_for_now() {
        for media_type in [
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ] {
            let err = patch(ct(media_type).as_ref(), b"{}").unwrap_err();
            assert_eq!(err.code.as_u16(), 415, "{media_type}");
            assert_eq!(
                err.message,
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"
            );
        }
    }

    #[test]
    fn a_json_patch_must_be_a_list_of_operations() {
        let ok = patch(
            ct("application/json-patch+json").as_ref(),
            br#"[{"op":"replace","path":"/spec/image","value":"nginx"}]"#,
        )
        .unwrap();
        assert!(matches!(ok, PatchBody::Json(_)));
        let err = patch(ct("application/json-patch+json").as_ref(), br#"{"op":"x"}"#).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
    }

    #[tokio::test]
    async fn bodies_over_three_mebibytes_are_413() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let err = read_limited(&HeaderMap::new(), Body::from(big)).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 413);
        assert_eq!(err.message, "Request entity too large: limit is 3145728");
        let exact = vec![b' '; MAX_BODY_BYTES];
        assert_eq!(
            read_limited(&HeaderMap::new(), Body::from(exact)).await.unwrap().len(),
            MAX_BODY_BYTES
        );
    }
}
