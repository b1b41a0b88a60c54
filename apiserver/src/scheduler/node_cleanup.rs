//! NodeImage tag clean-up: a finished tag is removed `ttlSecondsAfterFinished` (its own
//! pull policy's) after it finished, and owner references to ImagePullJobs that no longer
//! exist are dropped (a tag left with no owner goes; a tag that never had one, added to the
//! NodeImage by hand, stays until its TTL). Runs per NodeImage when it changes,
//! and again when its next tag is due to expire.

use k8s_openapi::jiff::Timestamp;
use prepull_api::NodeImage;
use prepull_api::node_image::ImagePullPhase;
use tokio::time::Duration;

use super::cache::{Cache, JOB_KIND};
use super::checked_time::{seconds_after, time_until};
use super::node_update::update_node;
use super::{Context, Work};
use crate::http::status::ApiError;
use crate::registry::Subresource;

/// Cleans up NodeImage `name`.
pub async fn reconcile(ctx: &Context, name: &str) -> Result<(), ApiError> {
    let now = ctx.clock.now();
    let mut next = None;
    update_node(ctx, name, Subresource::Main, |node| {
        let cache = ctx.cache();
        let (changed, due) = clean(node, now, &cache);
        next = due;
        changed
    })
    .await?;
    if let Some(delay) = next {
        ctx.queue.add_after(Work::Node(name.to_owned()), delay);
    }
    Ok(())
}

/// Drops dead job owners and expired tags from `node`. Returns whether anything changed and
/// when the next finished tag expires.
fn clean(node: &mut NodeImage, now: Timestamp, cache: &Cache) -> (bool, Option<Duration>) {
    let mut changed = false;
    let mut next: Option<Duration> = None;
    let status = node.status.clone().unwrap_or_default();
    for (image, spec) in &mut node.spec.images {
        // Tags that lost their last owner here; tags that never had one (added by hand, as
        // OpenKruise's documentation shows) stay.
        let mut orphaned = Vec::new();
        for tag in &mut spec.tags {
            let before = tag.owner_references.len();
            tag.owner_references.retain(|owner| {
                owner.kind.as_deref() != Some(JOB_KIND)
                    || cache.owner_is_live(
                        owner.namespace.as_deref().unwrap_or_default(),
                        owner.name.as_deref().unwrap_or_default(),
                        owner.uid.as_deref().unwrap_or_default(),
                    )
            });
            if tag.owner_references.len() != before {
                changed = true;
                if tag.owner_references.is_empty() {
                    orphaned.push(tag.tag.clone());
                }
            }
        }
        spec.tags.retain(|tag| {
            if orphaned.contains(&tag.tag) {
                return false;
            }
            let finished_at = status
                .image_statuses
                .get(image)
                .and_then(|i| i.tags.iter().find(|t| t.tag == tag.tag))
                .filter(|t| t.version == tag.version)
                .filter(|t| matches!(t.phase, ImagePullPhase::Succeeded | ImagePullPhase::Failed))
                .and_then(|t| t.completion_time.as_ref());
            let ttl = tag
                .pull_policy
                .as_ref()
                .and_then(|p| p.ttl_seconds_after_finished);
            let (Some(finished_at), Some(ttl)) = (finished_at, ttl) else {
                return true;
            };
            let expiry = seconds_after(finished_at.0, ttl.into());
            if now >= expiry {
                changed = true;
                return false;
            }
            let left = time_until(now, expiry);
            next = Some(next.map_or(left, |n| n.min(left)));
            true
        });
    }
    node.spec.images.retain(|_, image| !image.tags.is_empty());
    (
        changed,
        next.map(|d| d.saturating_add(Duration::from_millis(10))),
    )
}
