//! delete and deletecollection. Options come from the query and an optional `DeleteOptions`
//! body (preconditions only from the body).

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::Call;
use super::respond::{bytes_response, encode};
use crate::http::body;
use crate::http::negotiate::Endpoint;
use crate::http::query;
use crate::http::status::ApiError;

/// `DELETE .../<resource>/<name>`: an object deleted now answers a `Success` Status naming it
/// (as kube-apiserver does for custom resources); one kept by finalizers answers 200 with the
/// object, now carrying its deletionTimestamp.
pub async fn delete(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::Object)?;
    let raw = body::read_limited(&call.headers, call.body).await?;
    let options = body::optional_object(call.headers.get(header::CONTENT_TYPE), raw)?;
    let params = query::delete_params(&call.query, options.as_ref())?;
    let deleted = call
        .state
        .registry
        .store(call.target.kind)
        .delete(call.target.namespace(), &call.target.name, &params)
        .await?;
    if !deleted.finished {
        return Ok(presenter.object(StatusCode::OK, &deleted.object, &[]));
    }
    let mut details = Map::new();
    details.insert("name".into(), deleted.object.name().into());
    details.insert("group".into(), prepull_api::GROUP.into());
    details.insert("kind".into(), call.target.kind.info().plural.into());
    details.insert("uid".into(), deleted.object.uid().into());
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": Value::Object(details),
    });
    let format = presenter.output.format;
    Ok(bytes_response(
        StatusCode::OK,
        format,
        encode(&status, format)?,
    ))
}

/// `DELETE .../<resource>` with list options: deletes what the selectors select and answers
/// the list of those objects.
pub async fn delete_collection(call: Call) -> Result<Response, ApiError> {
    let presenter = call.presenter(Endpoint::List)?;
    let list_params = query::list_params(&call.query)?;
    let raw = body::read_limited(&call.headers, call.body).await?;
    let options = body::optional_object(call.headers.get(header::CONTENT_TYPE), raw)?;
    let params = query::delete_params(&call.query, options.as_ref())?;
    let deleted = call
        .state
        .registry
        .store(call.target.kind)
        .delete_collection(call.target.namespace(), &list_params, &params)
        .await?;
    Ok(presenter.list(&deleted))
}
