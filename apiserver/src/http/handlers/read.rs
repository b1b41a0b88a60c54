//! get and list.

use axum::http::StatusCode;
use axum::response::Response;

use super::Call;
use crate::http::negotiate::Endpoint;
use crate::http::query;
use crate::http::status::ApiError;
use crate::registry::ReadRevision;

/// `GET .../<resource>/<name>[/status]`: one object (`?resourceVersion=` unset: latest, `0`:
/// any, N: not older than N).
pub async fn get(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Object)?;
    let rv = ReadRevision::for_get(call.query.get("resourceVersion").filter(|v| !v.is_empty()))?;
    let object = call
        .target
        .store(&call.state)
        .get(call.target.namespace(), &call.target.name, rv)
        .await?;
    Ok(presenter.object(StatusCode::OK, &object, &[]))
}

/// `GET .../<resource>`: a list (selectors, paging and resourceVersion semantics by the
/// registry); `items` is `[]` when nothing matches, never `null`.
pub async fn list(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::List)?;
    let params = query::list_params(&call.query)?;
    let list = call
        .target
        .store(&call.state)
        .list(call.target.namespace(), &params)
        .await?;
    Ok(presenter.list(&list))
}
