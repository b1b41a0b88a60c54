//! watch: `GET .../<resource>?watch=true` (or the deprecated `/watch/` path prefix).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::Call;
use crate::http::negotiate::Endpoint;
use crate::http::query;
use crate::http::status::ApiError;
use crate::http::watch::{WatchEncoder, stream_body, watch_timeout};

/// Streams the changes to the selected objects. `name` narrows the watch to one object (a
/// `/watch/.../<name>` path or a `metadata.name` field selector). Errors found before the
/// stream starts (bad options, a resourceVersion the store has not reached) are ordinary
/// error responses; afterwards they are ERROR events.
pub async fn watch(call: Call, name: Option<String>) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Watch)?;
    let mut params = query::watch_params(&call.query, call.state.requests.bookmark_interval)?;
    if let Some(name) = name {
        let by_name = format!("metadata.name={name}");
        params.field_selector = Some(match params.field_selector.take() {
            Some(selector) if !selector.split(',').any(|term| term == by_name) => {
                format!("{selector},{by_name}")
            }
            Some(selector) => selector,
            None => by_name,
        });
    }
    let timeout = watch_timeout(
        query::timeout_seconds(&call.query)?,
        call.state.requests.min_request_timeout,
    );
    let items = call
        .target
        .store(&call.state)
        .watch(call.target.namespace(), &params)
        .await?;
    let encoder = WatchEncoder::new(presenter, call.state.encoded_events.clone());
    let body: Body = stream_body(items, encoder, timeout, call.state.shutdown.clone());
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
