//! The task table: one entry per `(image, tag)` of this node's spec, at the spec version it
//! handles, with the status the agent reports for it. Reconciling against a new NodeImage
//! decides which pulls to start, which to cancel, and which finished results to adopt.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};

use prepull_api::NodeImage;
use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::pull_task::TaskSpec;

/// `(image name, tag or digest)`.
pub type TaskKey = (String, String);

/// A pull to start: run it with [`crate::pull_task::run`]; it ends when `cancel` fires.
#[derive(Debug)]
pub struct NewTask {
    /// Which tag.
    pub key: TaskKey,
    /// How to pull it.
    pub spec: TaskSpec,
    /// Fired when the tag leaves the spec or its version changes.
    pub cancel: CancellationToken,
}

/// What the status should say, computed from the table alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusSnapshot {
    /// Tag statuses per image, sorted by tag.
    pub images: BTreeMap<String, Vec<ImageTagStatus>>,
    /// Images the stored status still lists but the table no longer has.
    pub stale_images: BTreeSet<String>,
    /// Number of tags in the table.
    pub desired: i32,
    /// Tags per phase.
    pub succeeded: i32,
    /// Tags per phase.
    pub failed: i32,
    /// Tags per phase.
    pub pulling: i32,
    /// Tags per phase.
    pub waiting: i32,
}

#[derive(Debug)]
struct Entry {
    version: i64,
    status: ImageTagStatus,
    cancel: Option<CancellationToken>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<TaskKey, Entry>,
    stored_images: BTreeSet<String>,
    /// Whether a spec has been reconciled yet (before that the table knows nothing).
    synced: bool,
}

/// The agent's tasks; shared by the watch loop, the pulls and the status writer.
#[derive(Debug, Default)]
pub struct TaskTable {
    inner: Mutex<Inner>,
    changed: Notify,
    /// Marked changed on every change, for watchers other than the status writer.
    revisions: watch::Sender<()>,
}

impl TaskTable {
    /// An empty table.
    pub fn new() -> TaskTable {
        TaskTable::default()
    }

    /// Brings the table in line with `node`'s spec: tags gone from the spec or at a new
    /// version have their running pull cancelled; a tag the table lacks whose stored status
    /// is finished (Succeeded or Failed) at the spec's version is adopted as it is (a restarted
    /// agent does not pull again); every other new tag becomes a Waiting task, returned for the
    /// caller to run.
    pub fn reconcile(&self, node: &NodeImage) -> Vec<NewTask> {
        let stored: BTreeMap<(&str, &str), &ImageTagStatus> = node
            .status
            .iter()
            .flat_map(|status| &status.image_statuses)
            .flat_map(|(image, status)| {
                status
                    .tags
                    .iter()
                    .map(move |tag| ((image.as_str(), tag.tag.as_str()), tag))
            })
            .collect();
        let mut wanted = BTreeSet::new();
        let mut started = Vec::new();
        let mut inner = self.inner.lock();
        inner.synced = true;
        inner.stored_images = node
            .status
            .iter()
            .flat_map(|status| status.image_statuses.keys().cloned())
            .collect();
        for (image, image_spec) in &node.spec.images {
            for tag_spec in &image_spec.tags {
                let key = (image.clone(), tag_spec.tag.clone());
                wanted.insert(key.clone());
                if let Some(entry) = inner.entries.get(&key) {
                    if entry.version == tag_spec.version {
                        continue;
                    }
                    if let Some(cancel) = &entry.cancel {
                        cancel.cancel();
                    }
                }
                let adopted = stored
                    .get(&(image.as_str(), tag_spec.tag.as_str()))
                    .filter(|status| status.version == tag_spec.version && is_finished(status));
                let entry = match adopted {
                    Some(status) => Entry {
                        version: tag_spec.version,
                        status: (*status).clone(),
                        cancel: None,
                    },
                    None => {
                        let cancel = CancellationToken::new();
                        started.push(NewTask {
                            key: key.clone(),
                            spec: TaskSpec::new(image, image_spec, tag_spec),
                            cancel: cancel.clone(),
                        });
                        Entry {
                            version: tag_spec.version,
                            status: ImageTagStatus {
                                tag: tag_spec.tag.clone(),
                                phase: ImagePullPhase::Waiting,
                                version: tag_spec.version,
                                ..ImageTagStatus::default()
                            },
                            cancel: Some(cancel),
                        }
                    }
                };
                inner.entries.insert(key, entry);
            }
        }
        inner.entries.retain(|key, entry| {
            let keep = wanted.contains(key);
            if !keep && let Some(cancel) = &entry.cancel {
                cancel.cancel();
            }
            keep
        });
        drop(inner);
        self.notify();
        started
    }

    /// Applies `change` to the status of `key` if the table still holds it at `version`
    /// (a cancelled pull cannot overwrite its successor); returns whether it did.
    pub fn update(
        &self,
        key: &TaskKey,
        version: i64,
        change: impl FnOnce(&mut ImageTagStatus),
    ) -> bool {
        let mut inner = self.inner.lock();
        let Some(entry) = inner.entries.get_mut(key).filter(|e| e.version == version) else {
            return false;
        };
        change(&mut entry.status);
        if is_finished(&entry.status) {
            entry.cancel = None;
        }
        drop(inner);
        self.notify();
        true
    }

    fn notify(&self) {
        self.changed.notify_one();
        self.revisions.send_replace(());
    }

    /// A receiver marked changed whenever the table changes (any number may watch).
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.revisions.subscribe()
    }

    /// Every tag of the spec, by `(image, tag)`, with whether its pull has succeeded; `None`
    /// until a spec was reconciled (see [`crate::image_pins`]).
    pub fn tags_succeeded(&self) -> Option<BTreeMap<TaskKey, bool>> {
        let inner = self.inner.lock();
        inner.synced.then(|| {
            inner
                .entries
                .iter()
                .map(|(key, entry)| (key.clone(), entry.status.phase == ImagePullPhase::Succeeded))
                .collect()
        })
    }

    /// The status the table implies now.
    pub fn snapshot(&self) -> StatusSnapshot {
        let inner = self.inner.lock();
        let mut snapshot = StatusSnapshot::default();
        for ((image, _), entry) in &inner.entries {
            snapshot
                .images
                .entry(image.clone())
                .or_default()
                .push(entry.status.clone());
            snapshot.desired += 1;
            match entry.status.phase {
                ImagePullPhase::Succeeded => snapshot.succeeded += 1,
                ImagePullPhase::Failed => snapshot.failed += 1,
                ImagePullPhase::Pulling => snapshot.pulling += 1,
                _ => snapshot.waiting += 1,
            }
        }
        snapshot.stale_images = inner
            .stored_images
            .iter()
            .filter(|image| !snapshot.images.contains_key(*image))
            .cloned()
            .collect();
        snapshot
    }

    /// Waits until the table changed since the last call returned (a change made while no one
    /// waited is remembered).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Makes the next [`TaskTable::changed`] return at once (e.g. to retry a failed write).
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// Cancels every running pull (shutdown).
    pub fn cancel_all(&self) {
        let inner = self.inner.lock();
        for cancel in inner.entries.values().filter_map(|e| e.cancel.as_ref()) {
            cancel.cancel();
        }
    }
}

fn is_finished(status: &ImageTagStatus) -> bool {
    matches!(
        status.phase,
        ImagePullPhase::Succeeded | ImagePullPhase::Failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_api::NodeImageSpec;
    use prepull_api::node_image::{ImageSpec, ImageStatus, ImageTagSpec, NodeImageStatus};

    fn node(tags: &[(&str, i64)]) -> NodeImage {
        let tags = tags
            .iter()
            .map(|(tag, version)| ImageTagSpec {
                tag: (*tag).into(),
                version: *version,
                ..ImageTagSpec::default()
            })
            .collect();
        let images = [(
            "app".to_string(),
            ImageSpec {
                tags,
                ..ImageSpec::default()
            },
        )]
        .into();
        NodeImage::new("n1", NodeImageSpec { images })
    }

    #[test]
    fn a_new_tag_starts_a_waiting_task_and_an_unchanged_one_does_not_restart() {
        let table = TaskTable::new();
        let started = table.reconcile(&node(&[("v1", 0)]));
        assert_eq!(started.len(), 1);
        assert_eq!(table.snapshot().waiting, 1);
        assert!(table.reconcile(&node(&[("v1", 0)])).is_empty());
    }

    #[test]
    fn a_version_bump_cancels_the_old_pull_and_starts_a_new_one() {
        let table = TaskTable::new();
        let old = table.reconcile(&node(&[("v1", 0)])).remove(0);
        let new = table.reconcile(&node(&[("v1", 1)]));
        assert!(old.cancel.is_cancelled());
        assert_eq!(new.len(), 1);
        // The cancelled pull can no longer report.
        assert!(!table.update(&old.key, 0, |s| s.phase = ImagePullPhase::Succeeded));
    }

    #[test]
    fn a_removed_tag_is_cancelled_and_its_image_reported_stale() {
        let table = TaskTable::new();
        let task = table.reconcile(&node(&[("v1", 0)])).remove(0);
        let mut gone = node(&[]);
        gone.spec.images.clear();
        gone.status = Some(NodeImageStatus {
            image_statuses: [("app".to_string(), ImageStatus::default())].into(),
            ..NodeImageStatus::default()
        });
        table.reconcile(&gone);
        assert!(task.cancel.is_cancelled());
        let snapshot = table.snapshot();
        assert_eq!(snapshot.desired, 0);
        assert!(snapshot.stale_images.contains("app"));
    }

    #[test]
    fn finished_status_at_the_same_version_is_adopted_but_not_at_another() {
        let finished = |version| {
            Some(NodeImageStatus {
                image_statuses: [(
                    "app".to_string(),
                    ImageStatus {
                        tags: vec![ImageTagStatus {
                            tag: "v1".into(),
                            phase: ImagePullPhase::Succeeded,
                            version,
                            image_id: "sha256:x".into(),
                            ..ImageTagStatus::default()
                        }],
                    },
                )]
                .into(),
                ..NodeImageStatus::default()
            })
        };
        let mut same = node(&[("v1", 3)]);
        same.status = finished(3);
        let table = TaskTable::new();
        assert!(table.reconcile(&same).is_empty());
        assert_eq!(table.snapshot().succeeded, 1);

        let mut other = node(&[("v1", 4)]);
        other.status = finished(3);
        assert_eq!(TaskTable::new().reconcile(&other).len(), 1);
    }
}
