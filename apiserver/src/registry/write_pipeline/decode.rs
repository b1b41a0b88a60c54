//! Step 1 of every write: the body as a typed object. Strict field validation (unknown and
//! duplicate fields) per `fieldValidation`, and the checks on what a body may not say
//! differently from the URL: kind, apiVersion, name and namespace.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prepull_api::field_error::{FieldError, FieldPath};
use prepull_api::strict::{self, DecodeError};
use prepull_api::{GROUP, KruiseResource};
use serde::Deserialize;
use serde_json::Value;

use super::{BodyOrigin, WriteRequest};
use crate::http::status::ApiError;
use crate::registry::errors;
use crate::registry::params::{Body, FieldValidation};

/// A decoded body.
pub(super) struct Decoded<T> {
    /// The object, unknown fields dropped, `managedFields` taken out.
    pub object: T,
    /// `Warning` texts for unknown and duplicate fields under `fieldValidation=Warn`.
    pub warnings: Vec<String>,
    /// The `metadata.managedFields` the body carried, if any.
    pub managed_fields: Option<Value>,
}

/// `apiVersion` and `kind` as the body states them.
#[derive(Default, Deserialize)]
struct TypeMeta {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Decodes the request body as a `T` received through the request's version.
pub(super) fn decode<T: KruiseResource>(
    request: &WriteRequest<'_>,
) -> Result<Decoded<T>, ApiError> {
    let (type_meta, decoded) = match request.body {
        Body::Json(bytes) => (
            serde_json::from_slice::<TypeMeta>(bytes).unwrap_or_default(),
            strict::decode::<T>(bytes, request.version),
        ),
        Body::Value(value) => (
            TypeMeta {
                api_version: value
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .map(Into::into),
                kind: value.get("kind").and_then(Value::as_str).map(Into::into),
            },
            strict::decode_value::<T>(value.clone(), request.version),
        ),
    };
    let decoded = decoded.map_err(|err| decode_error(request, &err))?;
    let mut warnings = Vec::new();
    if !decoded.is_strictly_valid() {
        let messages = decoded.strict_messages();
        match request.field_validation {
            FieldValidation::Strict => {
                let detail = format!("strict decoding error: {}", messages.join(", "));
                return Err(match request.origin {
                    BodyOrigin::Request => ApiError::bad_request(detail),
                    BodyOrigin::Patch => {
                        errors::invalid_patch_result(&patched_text(request), &detail)
                    }
                });
            }
            FieldValidation::Warn => warnings = messages,
            FieldValidation::Ignore => {}
        }
    }
    let mut object = decoded.object;
    check_type_meta::<T>(&type_meta, request, object.meta())?;
    let managed_fields = object
        .meta_mut()
        .managed_fields
        .take()
        .map(|entries| serde_json::to_value(entries).expect("managedFields serialize"));
    check_identity(object.meta_mut(), request, T::KIND.info().namespaced)?;
    Ok(Decoded {
        object,
        warnings,
        managed_fields,
    })
}

fn decode_error(request: &WriteRequest<'_>, err: &DecodeError) -> ApiError {
    match request.origin {
        BodyOrigin::Request => ApiError::bad_request(err.to_string()),
        BodyOrigin::Patch => errors::invalid_patch_result(&patched_text(request), &err.to_string()),
    }
}

fn patched_text(request: &WriteRequest<'_>) -> String {
    match request.body {
        Body::Json(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Value(value) => value.to_string(),
    }
}

/// `kind` and `apiVersion`, when the body states them, must be the URL's (as the
/// apiextensions validator requires of a custom resource): 422 otherwise.
fn check_type_meta<T: KruiseResource>(
    type_meta: &TypeMeta,
    request: &WriteRequest<'_>,
    meta: &ObjectMeta,
) -> Result<(), ApiError> {
    let kind = T::KIND.name();
    let api_version = request.version.api_version();
    let mut problems = Vec::new();
    if let Some(stated) = type_meta
        .kind
        .as_deref()
        .filter(|k| !k.is_empty() && *k != kind)
    {
        problems.push(FieldError::invalid(
            &FieldPath::new("kind"),
            stated,
            format!("must be {kind}"),
        ));
    }
    if let Some(stated) = type_meta
        .api_version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != api_version)
    {
        problems.push(FieldError::invalid(
            &FieldPath::new("apiVersion"),
            stated,
            format!("must be {GROUP}/{}", request.version),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let name = meta.name.as_deref().unwrap_or_default();
        Err(errors::invalid(T::KIND, name, &problems))
    }
}

/// kube-apiserver's `checkName` (updates: the body names the URL's object) and
/// `EnsureObjectNamespaceMatchesRequestNamespace` (an empty namespace is filled in from the
/// URL, a cluster-scoped object loses any namespace, a different one is refused).
fn check_identity(
    meta: &mut ObjectMeta,
    request: &WriteRequest<'_>,
    namespaced: bool,
) -> Result<(), ApiError> {
    let url_namespace = request.namespace.unwrap_or_default();
    if let Some(url_name) = request.name {
        let body_name = meta.name.as_deref().unwrap_or_default();
        if body_name != url_name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )));
        }
        let body_namespace = meta.namespace.as_deref().unwrap_or_default();
        if !url_namespace.is_empty()
            && !body_namespace.is_empty()
            && body_namespace != url_namespace
        {
            return Err(ApiError::bad_request(format!(
                "the namespace of the object ({body_namespace}) does not match the namespace on the URL ({url_namespace})"
            )));
        }
    }
    let expected = if namespaced { url_namespace } else { "" };
    let body_namespace = meta.namespace.as_deref().unwrap_or_default();
    if body_namespace == expected {
        return Ok(());
    }
    if body_namespace.is_empty() || expected.is_empty() {
        meta.namespace = Some(expected.to_owned()).filter(|ns| !ns.is_empty());
        return Ok(());
    }
    Err(ApiError::bad_request(
        "the namespace of the provided object does not match the namespace sent on the request",
    ))
}
