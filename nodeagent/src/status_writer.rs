//! Writes the table's status to the NodeImage's `/status` as JSON merge patches, at most one
//! per interval (changes in between are coalesced).
//!
//! What a patch touches: the counters and, per image the agent has tasks for, the whole
//! `imageStatuses.<image>.tags` list computed from its own table (a merge patch replaces
//! lists, and the agent is the only writer of per-tag pull state, so no read-modify-write is
//! needed); images the stored status lists but the table no longer has are set to `null`.
//! Nothing else (e.g. `firstSyncStatus`) is sent, so other writers' fields are never clobbered,
//! and no resourceVersion is sent, so a patch never conflicts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use prepull_api::NodeImage;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::metrics::AgentMetrics;
use crate::task_table::{StatusSnapshot, TaskTable};

/// Deadline of one status write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// Writes status changes of `table` to node `name` until `stop` fires; keeps the task gauges
/// of `metrics` current and counts the writes.
pub async fn run(
    api: Api<NodeImage>,
    name: String,
    table: Arc<TaskTable>,
    interval: Duration,
    metrics: AgentMetrics,
    stop: CancellationToken,
) {
    let mut written: Option<StatusSnapshot> = None;
    let mut written_images = BTreeSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = table.changed() => {}
        }
        // Let more changes gather before writing.
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let snapshot = table.snapshot();
        metrics.set_tasks(&snapshot);
        if written.as_ref() == Some(&snapshot) {
            continue;
        }
        let patch = merge_patch(&snapshot, &written_images);
        let params = PatchParams::default();
        let patch = Patch::Merge(&patch);
        match tokio::time::timeout(WRITE_TIMEOUT, api.patch_status(&name, &params, &patch)).await {
            Ok(Ok(_)) => {
                metrics.status_written(true);
                written_images = snapshot.images.keys().cloned().collect();
                written = Some(snapshot);
            }
            Ok(Err(err)) => {
                metrics.status_written(false);
                tracing::warn!(node = %name, %err, "writing status failed; retrying");
                table.poke();
            }
            Err(_) => {
                metrics.status_written(false);
                tracing::warn!(node = %name, "writing status timed out; retrying");
                table.poke();
            }
        }
    }
}

/// The merge patch for `snapshot`; `previously_written` images absent from it become `null`.
pub fn merge_patch(snapshot: &StatusSnapshot, previously_written: &BTreeSet<String>) -> Value {
    let mut images = Map::new();
    for image in previously_written.iter().chain(&snapshot.stale_images) {
        if !snapshot.images.contains_key(image) {
            images.insert(image.clone(), Value::Null);
        }
    }
    for (image, tags) in &snapshot.images {
        images.insert(image.clone(), json!({ "tags": tags }));
    }
    json!({
        "status": {
            "desired": snapshot.desired,
            "succeeded": snapshot.succeeded,
            "failed": snapshot.failed,
            "pulling": snapshot.pulling,
            "waiting": snapshot.waiting,
            "imageStatuses": images,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};

    #[test]
    fn images_gone_from_the_table_are_nulled_and_others_carry_their_tags() {
        let mut snapshot = StatusSnapshot::default();
        snapshot.images.insert(
            "app".into(),
            vec![ImageTagStatus {
                tag: "v1".into(),
                phase: ImagePullPhase::Waiting,
                ..ImageTagStatus::default()
            }],
        );
        snapshot.stale_images.insert("old".into());
        let written = BTreeSet::from(["gone".to_string(), "app".to_string()]);
        let patch = merge_patch(&snapshot, &written);
        let images = &patch["status"]["imageStatuses"];
        assert_eq!(images["gone"], Value::Null);
        assert_eq!(images["old"], Value::Null);
        assert_eq!(images["app"]["tags"][0]["phase"], "Waiting");
        assert!(patch["status"].get("firstSyncStatus").is_none());
    }
}
