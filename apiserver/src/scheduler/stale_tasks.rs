//! Tasks a node does not finish: a tag the agent never acknowledges (no status entry at the
//! spec's version) within the acknowledgement timeout fails with "node has not responded for
//! a long time"; a tag still waiting or pulling past its own `activeDeadlineSeconds` plus a
//! grace period fails with "pulling exceeds the activeDeadlineSeconds". The scheduler writes
//! such failures into the NodeImage's status, so every owner of the tag sees them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use prepull_api::NodeImage;
use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};
use tokio::time::{Duration, Instant};

use super::checked_time::{later, seconds_after, time_until};

/// Message of a task the agent never acknowledged.
pub const NOT_RESPONDING: &str = "node has not responded for a long time";
/// Message of a task past its deadline.
pub const PULL_DEADLINE_EXCEEDED: &str = "pulling exceeds the activeDeadlineSeconds";

/// What to do about one running task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Leave it; look again after this long (if ever).
    Wait(Option<Duration>),
    /// Fail it with this message.
    Fail(&'static str),
}

/// Judges the running task `image`:`tag` on `node`. `unacknowledged_since`: when the scheduler
/// first saw it without a status entry at the spec's version (`None` when it has one).
pub fn judge(
    node: &NodeImage,
    image: &str,
    tag: &str,
    unacknowledged_since: Option<Instant>,
    ack_timeout: Duration,
    deadline_grace: Duration,
    now: Timestamp,
) -> Verdict {
    if let Some(since) = unacknowledged_since {
        let waited = since.elapsed();
        return if waited >= ack_timeout {
            Verdict::Fail(NOT_RESPONDING)
        } else {
            Verdict::Wait(Some(ack_timeout.saturating_sub(waited)))
        };
    }
    let Some(spec) = spec_tag(node, image, tag) else {
        return Verdict::Wait(None);
    };
    let deadline = spec
        .pull_policy
        .as_ref()
        .and_then(|p| p.active_deadline_seconds);
    let started = status_tag(node, image, tag)
        .filter(|s| s.version == spec.version)
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0);
    match (deadline, started) {
        (Some(seconds), Some(started)) => {
            let grace = SignedDuration::try_from(deadline_grace).unwrap_or_default();
            let end = later(seconds_after(started, seconds), grace);
            if now >= end {
                Verdict::Fail(PULL_DEADLINE_EXCEEDED)
            } else {
                Verdict::Wait(Some(time_until(now, end)))
            }
        }
        _ => Verdict::Wait(None),
    }
}

/// Whether `node` has a status entry for `image`:`tag` at the spec's version.
pub fn acknowledged(node: &NodeImage, image: &str, tag: &str) -> bool {
    match (spec_tag(node, image, tag), status_tag(node, image, tag)) {
        (Some(spec), Some(status)) => status.version == spec.version,
        _ => false,
    }
}

/// Marks the task `image`:`tag` at `version` failed with `message` in `node`'s status.
/// Returns whether anything changed (nothing when the spec moved on from `version`, or it
/// already finished).
pub fn fail_tag(
    node: &mut NodeImage,
    image: &str,
    tag: &str,
    version: i64,
    message: &str,
    now: &Time,
) -> bool {
    if spec_tag(node, image, tag).is_none_or(|spec| spec.version != version) {
        return false;
    }
    let status = node.status.get_or_insert_with(Default::default);
    let entry = status.image_statuses.entry(image.to_owned()).or_default();
    if let Some(existing) = entry.tags.iter().find(|t| t.tag == tag) {
        let finished = matches!(
            existing.phase,
            ImagePullPhase::Succeeded | ImagePullPhase::Failed
        );
        if existing.version == version && finished {
            return false;
        }
    }
    entry.tags.retain(|t| t.tag != tag);
    entry.tags.push(ImageTagStatus {
        tag: tag.to_owned(),
        phase: ImagePullPhase::Failed,
        completion_time: Some(now.clone()),
        version,
        message: message.to_owned(),
        ..ImageTagStatus::default()
    });
    entry.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
    true
}

/// The spec version of `image`:`tag` on `node`.
pub fn spec_version(node: &NodeImage, image: &str, tag: &str) -> Option<i64> {
    spec_tag(node, image, tag).map(|t| t.version)
}

fn spec_tag<'a>(
    node: &'a NodeImage,
    image: &str,
    tag: &str,
) -> Option<&'a prepull_api::node_image::ImageTagSpec> {
    node.spec
        .images
        .get(image)
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
}

fn status_tag<'a>(node: &'a NodeImage, image: &str, tag: &str) -> Option<&'a ImageTagStatus> {
    node.status
        .as_ref()
        .and_then(|s| s.image_statuses.get(image))
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
}
