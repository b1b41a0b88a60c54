//! Writing a job's status through the registry's `/status` subresource, as any client would.

use http::StatusCode;
use prepull_api::{ApiVersion, Kind};
use serde::Serialize;

use super::Context;
use super::cache::JobKey;
use crate::http::status::ApiError;
use crate::registry::{Object, Patch, Subresource};

/// Replaces the status of the `kind` object at `key` with `status`. Returns the written
/// object, or `None` when the object is gone (nothing left to report on).
pub async fn patch_status(
    ctx: &Context,
    kind: Kind,
    key: &JobKey,
    status: &impl Serialize,
) -> Result<Option<Object>, ApiError> {
    let value = serde_json::to_value(status).expect("statuses serialize");
    let patch = serde_json::json!([{"op": "add", "path": "/status", "value": value}]);
    let written = ctx
        .registry
        .store(kind)
        .patch(
            Some(&key.namespace),
            &key.name,
            &Patch::Json(serde_json::to_vec(&patch).expect("JSON").into()),
            ApiVersion::PREFERRED,
            Subresource::Status,
            &ctx.write_params,
        )
        .await;
    match written {
        Ok(written) => Ok(Some(written.object)),
        Err(err) if err.code == StatusCode::NOT_FOUND => Ok(None),
        Err(err) => Err(err),
    }
}
