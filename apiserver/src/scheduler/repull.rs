//! Never jobs pull again on every target node about once per re-pull period: a finished
//! task whose period has passed (plus a per-task jitter, so nodes finishing together do not
//! all pull again in the same second) gets a new version, which the agent pulls. OpenKruise:
//! 24 h +- 10 min.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::time::Duration;

use super::Context;
use super::checked_time::{later, until};
use super::node_task::{self, TaskState};
use super::node_update::update_node;
use super::reconcile::earliest;
use super::stale_tasks;
use crate::http::status::ApiError;
use crate::registry::Subresource;

/// The jitter's bound as a fraction of the period: 10 minutes of 24 hours.
const JITTER_DIVISOR: i64 = 144;

/// Finished tasks of a Never job whose re-pull period has passed.
pub(super) struct Due {
    /// Node, the task's spec version, and how the task stood.
    pub nodes: Vec<(String, i64, TaskState)>,
    /// When the next task falls due.
    pub recheck: Option<Duration>,
}

/// What [`restart`] started again.
pub(super) struct Repull {
    pub restarted: usize,
    pub restarted_succeeded: usize,
    pub restarted_failed: Vec<String>,
}

/// The tasks among `finished` nodes whose re-pull is due at `now` (read from the cache).
pub(super) fn due(
    ctx: &Context,
    finished: &[String],
    image: &str,
    tag: &str,
    uid: &str,
    now: Timestamp,
) -> Due {
    let mut due = Due {
        nodes: Vec::new(),
        recheck: None,
    };
    let period = SignedDuration::try_from(ctx.options.repull_period).unwrap_or(SignedDuration::MAX);
    for name in finished {
        let Some(node) = ctx.cache().node(name).map(|c| c.object) else {
            continue;
        };
        let state = node_task::task_state(&node, image, tag, uid);
        let Some(done_at) = node_task::finished_at(&node, image, tag) else {
            continue;
        };
        let at = later(later(done_at, period), jitter(period, name, image, tag));
        if now < at {
            due.recheck = earliest(due.recheck, Some(until(now, at)));
            continue;
        }
        let Some(version) = stale_tasks::spec_version(&node, image, tag) else {
            continue;
        };
        due.nodes.push((name.clone(), version, state));
    }
    due
}

/// Starts the due tasks `nodes` again (a new version each, which the agent pulls).
pub(super) async fn restart(
    ctx: &Context,
    nodes: &[(String, i64, TaskState)],
    image: &str,
    tag: &str,
) -> Result<Repull, ApiError> {
    let mut repull = Repull {
        restarted: 0,
        restarted_succeeded: 0,
        restarted_failed: Vec::new(),
    };
    for (name, version, state) in nodes {
        let written = update_node(ctx, name, Subresource::Main, |node| {
            node_task::bump_version(node, image, tag, *version)
        })
        .await?;
        if written.is_some() {
            repull.restarted = repull.restarted.saturating_add(1);
            match state {
                TaskState::Succeeded => {
                    repull.restarted_succeeded = repull.restarted_succeeded.saturating_add(1);
                }
                _ => repull.restarted_failed.push(name.clone()),
            }
        }
    }
    Ok(repull)
}

/// A stable offset in `[-period/144, +period/144]` for one node's task: the same on every
/// pass (so rechecks agree), different across nodes and images.
fn jitter(period: SignedDuration, node: &str, image: &str, tag: &str) -> SignedDuration {
    use std::hash::{Hash, Hasher};
    let bound = period
        .as_millis()
        .checked_div(i128::from(JITTER_DIVISOR))
        .unwrap_or(0);
    let Ok(bound) = i64::try_from(bound) else {
        return SignedDuration::ZERO;
    };
    if bound == 0 {
        return SignedDuration::ZERO;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (node, image, tag).hash(&mut hasher);
    let span = u64::try_from(bound.saturating_mul(2).saturating_add(1)).unwrap_or(u64::MAX);
    let offset = i64::try_from(hasher.finish().checked_rem(span).unwrap_or(0))
        .unwrap_or(0)
        .saturating_sub(bound);
    SignedDuration::from_millis(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repull_jitter_stays_within_ten_minutes_a_day_and_differs_between_nodes() {
        let day = SignedDuration::from_hours(24);
        let offsets: Vec<SignedDuration> = (0..50)
            .map(|n| jitter(day, &format!("node-{n}"), "nginx", "1.27"))
            .collect();
        for offset in &offsets {
            assert!(offset.abs() <= SignedDuration::from_mins(10), "{offset:?}");
        }
        assert_eq!(offsets[0], jitter(day, "node-0", "nginx", "1.27"));
        assert!(offsets.iter().any(|o| *o != offsets[0]));
        assert_eq!(
            jitter(SignedDuration::from_millis(100), "n", "i", "t"),
            SignedDuration::ZERO
        );
    }
}
