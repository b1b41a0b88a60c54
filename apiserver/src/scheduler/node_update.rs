//! The scheduler's one way of changing a NodeImage: a guaranteed update (read, change,
//! compare-and-swap on the resourceVersion, again on conflict), through the main resource for
//! tasks or `/status` for results the scheduler decides (stale tasks).

use std::sync::Arc;

use http::StatusCode;
use prepull_api::{ApiVersion, Kind, NodeImage};

use super::Context;
use crate::http::status::ApiError;
use crate::registry::{Body, ReadRevision, Subresource};

/// Attempts of one guaranteed NodeImage update before giving up (the job is queued again).
const MAX_UPDATE_ATTEMPTS: usize = 16;

/// One guaranteed update of NodeImage `name`: applies `change` to the cached object and
/// writes it with its resourceVersion; on a conflict reads the latest state and applies
/// `change` again. Returns the written NodeImage, or `None` when there was nothing to change
/// or the NodeImage is gone.
pub async fn update_node(
    ctx: &Context,
    name: &str,
    subresource: Subresource,
    mut change: impl FnMut(&mut NodeImage) -> bool,
) -> Result<Option<Arc<NodeImage>>, ApiError> {
    let store = ctx.registry.store(Kind::NodeImage);
    let mut current = ctx.cache().node(name).map(|c| c.object);
    let mut last_error = None;
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let Some(base) = current.take() else {
            return Ok(None);
        };
        let mut next = (*base).clone();
        if !change(&mut next) {
            return Ok(None);
        }
        let body = serde_json::to_value(&next).expect("NodeImages serialize");
        let written = store
            .update(
                None,
                name,
                Body::Value(body),
                ApiVersion::PREFERRED,
                subresource,
                &ctx.write_params,
            )
            .await;
        match written {
            Ok(written) => {
                ctx.observe_node(&written.object);
                return Ok(Some(Arc::new(next)));
            }
            Err(err) if err.code == StatusCode::CONFLICT => {
                last_error = Some(err);
                match store.get(None, name, ReadRevision::Latest).await {
                    Ok(fresh) => {
                        ctx.observe_node(&fresh);
                        current = ctx.cache().node(name).map(|c| c.object);
                    }
                    Err(err) if err.code == StatusCode::NOT_FOUND => return Ok(None),
                    Err(err) => return Err(err),
                }
            }
            Err(err) if err.code == StatusCode::NOT_FOUND => return Ok(None),
            Err(err) => return Err(err),
        }
    }
    Err(last_error.expect("a conflict was seen"))
}
