//! Request bodies: the size limit, the media types we read, and the patch types.
//!
//! Bodies are read whole, up to [`MAX_BODY_BYTES`] (kube-apiserver's 3 MiB; more is 413).
//! Objects (create, update) arrive as JSON (passed on untouched, so the registry's strict
//! decoder still sees duplicate keys) or YAML (parsed here). Patches arrive as JSON patch or
//! JSON merge patch; strategic merge patch and server-side apply are answered 415 with
//! kube-apiserver's message until they are implemented.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use serde_json::Value;

use super::status::ApiError;
use crate::registry::{Body as RegistryBody, Patch};

/// Largest request body accepted (kube-apiserver's `--max-request-body-bytes` default).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Media types accepted for objects (create, update, delete options).
pub const OBJECT_MEDIA_TYPES: &[&str] = &["application/json", "application/yaml"];

/// Patch media types accepted, as listed in 415 answers; the OpenAPI PATCH operations
/// advertise the same list.
pub const PATCH_MEDIA_TYPES: &[&str] = super::openapi::PATCH_CONTENT_TYPES;

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
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/json".to_string())
}

/// An object body (create, update): JSON is passed on as received (so the registry's strict
/// decoder can report duplicate keys), YAML parsed. Other media types are 415; malformed YAML
/// is 400.
pub fn object(content_type: Option<&HeaderValue>, raw: Bytes) -> Result<RegistryBody, ApiError> {
    match media_type(content_type).as_str() {
        "application/json" | "*/*" => Ok(RegistryBody::Json(raw)),
        "application/yaml" => yaml(&raw).map(RegistryBody::Value),
        other => Err(ApiError::unsupported_media_type(other, OBJECT_MEDIA_TYPES)),
    }
}

/// An optional `DeleteOptions` body (JSON or YAML); empty means none.
pub fn optional_object(
    content_type: Option<&HeaderValue>,
    raw: Bytes,
) -> Result<Option<Value>, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match object(content_type, raw)? {
        RegistryBody::Json(json) => serde_json::from_slice(&json).map(Some).map_err(|err| {
            ApiError::bad_request(format!("error decoding the request body: {err}"))
        }),
        RegistryBody::Value(value) => Ok(Some(value)),
    }
}

fn yaml(raw: &[u8]) -> Result<Value, ApiError> {
    serde_norway::from_slice(raw)
        .map_err(|err| ApiError::bad_request(format!("error converting YAML to JSON: yaml: {err}")))
}

/// A patch body, by its `Content-Type`: JSON patch, merge patch and strategic merge patch are
/// handed to the registry as received (it parses and applies them); an apply patch is parsed
/// here (YAML, of which JSON is a subset; malformed is 400). Anything else is 415 listing
/// [`PATCH_MEDIA_TYPES`].
pub fn patch(content_type: Option<&HeaderValue>, raw: Bytes) -> Result<Patch, ApiError> {
    let media_type = content_type
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match media_type.as_str() {
        "application/json-patch+json" => Ok(Patch::Json(raw)),
        "application/merge-patch+json" => Ok(Patch::Merge(raw)),
        "application/strategic-merge-patch+json" => Ok(Patch::Strategic(raw)),
        "application/apply-patch+yaml" => yaml(&raw).map(Patch::Apply),
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
    fn yaml_bodies_are_parsed() {
        let body = object(
            ct("application/yaml").as_ref(),
            Bytes::from_static(
                b"apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: n1\n",
            ),
        )
        .unwrap();
        let RegistryBody::Value(value) = body else {
            panic!("YAML is parsed")
        };
        assert_eq!(value["metadata"]["name"], "n1");
    }

    #[test]
    fn json_bodies_pass_untouched_so_duplicate_keys_stay_visible() {
        let raw = Bytes::from_static(br#"{"a":1,"a":2}"#);
        for content_type in [ct("application/json; charset=utf-8"), None] {
            let RegistryBody::Json(passed) = object(content_type.as_ref(), raw.clone()).unwrap()
            else {
                panic!("JSON is passed as bytes")
            };
            assert_eq!(passed, raw);
        }
    }

    #[test]
    fn other_object_media_types_are_415_with_the_accepted_list() {
        let err = object(ct("text/plain").as_ref(), Bytes::new()).unwrap_err();
        assert_eq!(err.code.as_u16(), 415);
        assert_eq!(
            err.message,
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        );
    }

    #[test]
    fn every_patch_type_is_read_and_others_are_415() {
        assert!(matches!(
            patch(
                ct("application/strategic-merge-patch+json").as_ref(),
                Bytes::from_static(b"{}")
            ),
            Ok(Patch::Strategic(_))
        ));
        let Ok(Patch::Apply(config)) = patch(
            ct("application/apply-patch+yaml").as_ref(),
            Bytes::from_static(b"kind: NodeImage\nmetadata:\n  name: n\n"),
        ) else {
            panic!("apply patches are parsed")
        };
        assert_eq!(config["metadata"]["name"], "n");
        let bad_yaml = patch(
            ct("application/apply-patch+yaml").as_ref(),
            Bytes::from_static(b"a: [\n"),
        );
        assert_eq!(bad_yaml.unwrap_err().code.as_u16(), 400);
        let err = patch(ct("text/plain").as_ref(), Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(err.code.as_u16(), 415);
        assert_eq!(
            err.message,
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        );
    }

    #[test]
    fn an_empty_delete_body_means_no_options() {
        assert_eq!(
            optional_object(None, Bytes::from_static(b"  ")).unwrap(),
            None
        );
        let options =
            optional_object(None, Bytes::from_static(br#"{"kind":"DeleteOptions"}"#)).unwrap();
        assert_eq!(options.unwrap()["kind"], "DeleteOptions");
    }

    #[tokio::test]
    async fn bodies_over_three_mebibytes_are_413() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let err = read_limited(&HeaderMap::new(), Body::from(big))
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 413);
        assert_eq!(err.message, "Request entity too large: limit is 3145728");
        let exact = vec![b' '; MAX_BODY_BYTES];
        assert_eq!(
            read_limited(&HeaderMap::new(), Body::from(exact))
                .await
                .unwrap()
                .len(),
            MAX_BODY_BYTES
        );
    }
}
