//! create (POST), update (PUT) and patch (PATCH), on the main resource or `/status`.
//!
//! The response representation is negotiated before anything is written (406 leaves the
//! store untouched, as in kube-apiserver). Unknown fields accepted under
//! `fieldValidation=Warn` come back as `Warning` headers.

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::Call;
use crate::auth::node_restriction::NodeRestriction;
use crate::http::body;
use crate::http::negotiate::Endpoint;
use crate::http::query;
use crate::http::status::ApiError;
use crate::registry::Written;

/// `POST .../<resource>`: 201 with the created object (also for `dryRun=All`). A node may
/// create only its own NodeImage ([`NodeRestriction`]).
pub async fn create(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Object)?;
    let params = query::write_params(&call.query, "CreateOptions", call.user_agent())?;
    let raw = body::read_limited(&call.headers, call.body).await?;
    let body = body::object(call.headers.get(header::CONTENT_TYPE), raw)?;
    let written = call
        .state
        .registry
        .store(call.target.kind)
        .create_checked(
            call.target.namespace(),
            body,
            call.target.version,
            &params,
            &NodeRestriction::new(&call.user, call.target.kind),
        )
        .await?;
    Ok(respond(&presenter, &written))
}

/// `PUT .../<resource>/<name>[/status]`: 200 with the stored object. A node may change only
/// the status and labels of its own NodeImage ([`NodeRestriction`]).
pub async fn update(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Object)?;
    let params = query::write_params(&call.query, "UpdateOptions", call.user_agent())?;
    let raw = body::read_limited(&call.headers, call.body).await?;
    let body = body::object(call.headers.get(header::CONTENT_TYPE), raw)?;
    let written = call
        .state
        .registry
        .store(call.target.kind)
        .update_checked(
            call.target.namespace(),
            &call.target.name,
            body,
            call.target.version,
            call.target.subresource,
            &params,
            &NodeRestriction::new(&call.user, call.target.kind),
        )
        .await?;
    Ok(respond(&presenter, &written))
}

/// `PATCH .../<resource>/<name>[/status]` with a JSON patch, merge patch, strategic merge
/// patch or apply patch: 200 with the stored object, 201 when an apply patch created it (a
/// node may create only its own NodeImage, as with POST, and change only what PUT lets it).
pub async fn patch(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Object)?;
    let params = query::write_params(&call.query, "PatchOptions", call.user_agent())?;
    let raw = body::read_limited(&call.headers, call.body).await?;
    let patch = body::patch(call.headers.get(header::CONTENT_TYPE), raw)?;
    let written = call
        .state
        .registry
        .store(call.target.kind)
        .patch_checked(
            call.target.namespace(),
            &call.target.name,
            &patch,
            call.target.version,
            call.target.subresource,
            &params,
            &NodeRestriction::new(&call.user, call.target.kind),
        )
        .await?;
    Ok(respond(&presenter, &written))
}

fn respond(presenter: &super::respond::Presenter, written: &Written) -> Response {
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    presenter.object(status, &written.object, &written.warnings)
}
