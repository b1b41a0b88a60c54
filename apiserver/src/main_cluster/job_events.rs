//! Events on ImagePullJobs for their notable transitions, as OpenKruise records them: the job
//! started, a node failed its pull (Warning `PullImageFailed`, "Failed to pull image <img> on
//! node <node>: <message>"), the job completed. They are read off the jobs' status changes
//! (the scheduler writes the status; this watches it), so the scheduler stays free of main-
//! cluster calls. Only the replica that leads records them (the others watch the same
//! changes), and only transitions seen happening: what the first list shows is the baseline.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use prepull_api::reference::ImageReference;
use prepull_api::{ImagePullJob, Kind, NodeImage};
use tokio::sync::mpsc;

use super::events::{EventRecorder, Regarding};
use super::lease_election::LeaseElection;
use crate::registry::{Object, ReadRevision, Registry};
use crate::scheduler::cache::JobKey;
use crate::scheduler::informer::InformerEvent;

/// Reason of the job-started event.
pub const STARTED: &str = "Started";
/// Reason of the job-completed event (Normal when every node succeeded, else Warning).
pub const COMPLETED: &str = "Completed";
/// Reason of a node's failed pull.
pub const PULL_IMAGE_FAILED: &str = "PullImageFailed";

/// What is remembered of a job to see its transitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    started: bool,
    completed: bool,
    failed_nodes: BTreeSet<String>,
}

/// One transition to record.
#[derive(Debug)]
struct Transition {
    key: JobKey,
    uid: Option<String>,
    image: String,
    started: bool,
    completed: Option<(bool, String)>,
    failed_nodes: Vec<String>,
}

/// Turns job informer events into transitions; a task records them.
#[derive(Debug)]
pub(super) struct JobEvents {
    seen: HashMap<JobKey, Seen>,
    transitions: mpsc::UnboundedSender<Transition>,
}

impl JobEvents {
    /// The observer, and the recording task to spawn.
    pub(super) fn start(
        registry: Arc<Registry>,
        events: EventRecorder,
        election: LeaseElection,
    ) -> (JobEvents, impl Future<Output = ()>) {
        let (transitions, received) = mpsc::unbounded_channel();
        let observer = JobEvents {
            seen: HashMap::new(),
            transitions,
        };
        (observer, record(received, registry, events, election))
    }

    /// Takes in an event of the ImagePullJob informer.
    pub(super) fn observe(&mut self, event: &InformerEvent) {
        match event {
            InformerEvent::Listed(items) => {
                self.seen = items
                    .iter()
                    .filter_map(parse)
                    .map(|(key, job)| (key, seen(&job)))
                    .collect();
            }
            InformerEvent::Deleted(object) => {
                if let Some((key, _)) = parse(object) {
                    self.seen.remove(&key);
                }
            }
            InformerEvent::Applied(object) => {
                let Some((key, job)) = parse(object) else {
                    return;
                };
                let now = seen(&job);
                let before = self
                    .seen
                    .insert(key.clone(), now.clone())
                    .unwrap_or_default();
                let completed = (now.completed && !before.completed).then(|| {
                    let status = job.status.clone().unwrap_or_default();
                    (status.failed == 0, status.message)
                });
                let transition = Transition {
                    key,
                    uid: job.metadata.uid.clone(),
                    image: job.spec.image.clone(),
                    started: now.started && !before.started,
                    completed,
                    failed_nodes: now
                        .failed_nodes
                        .difference(&before.failed_nodes)
                        .cloned()
                        .collect(),
                };
                let any = transition.started
                    || transition.completed.is_some()
                    || !transition.failed_nodes.is_empty();
                if any {
                    let _ = self.transitions.send(transition);
                }
            }
        }
    }
}

fn parse(object: &Object) -> Option<(JobKey, ImagePullJob)> {
    let job: ImagePullJob = serde_json::from_value((*object.value()).clone()).ok()?;
    let key = JobKey {
        namespace: job.metadata.namespace.clone()?,
        name: job.metadata.name.clone()?,
    };
    Some((key, job))
}

fn seen(job: &ImagePullJob) -> Seen {
    let status = job.status.clone().unwrap_or_default();
    Seen {
        started: status.start_time.is_some(),
        completed: status.completion_time.is_some(),
        failed_nodes: status.failed_nodes.into_iter().collect(),
    }
}

/// Records each transition while this replica leads.
async fn record(
    mut transitions: mpsc::UnboundedReceiver<Transition>,
    registry: Arc<Registry>,
    events: EventRecorder,
    election: LeaseElection,
) {
    while let Some(t) = transitions.recv().await {
        if !election.is_leading() {
            continue;
        }
        let regarding = Regarding::job(&t.key.namespace, &t.key.name, t.uid.clone());
        if t.started {
            let note = format!("job started pulling image {}", t.image);
            events.normal(&regarding, STARTED, "Start", note).await;
        }
        for node in &t.failed_nodes {
            let message = node_message(&registry, node, &t.image).await;
            let note = format!("Failed to pull image {} on node {node}: {message}", t.image);
            events
                .warning(&regarding, PULL_IMAGE_FAILED, "PullImage", note)
                .await;
        }
        if let Some((all_succeeded, message)) = &t.completed {
            let note = format!("{message} (image {})", t.image);
            if *all_succeeded {
                events.normal(&regarding, COMPLETED, "Complete", note).await;
            } else {
                events
                    .warning(&regarding, COMPLETED, "Complete", note)
                    .await;
            }
        }
    }
}

/// The message the node's agent (or the scheduler) left on the image's tag.
async fn node_message(registry: &Registry, node: &str, image: &str) -> String {
    let Ok(reference) = ImageReference::parse(image) else {
        return String::new();
    };
    let (name, tag) = reference.name_and_tag();
    let Ok(object) = registry
        .store(Kind::NodeImage)
        .get(None, node, ReadRevision::Latest)
        .await
    else {
        return String::new();
    };
    let Ok(node_image) = serde_json::from_value::<NodeImage>((*object.value()).clone()) else {
        return String::new();
    };
    node_image
        .status
        .and_then(|s| s.image_statuses.get(&name).cloned())
        .and_then(|i| i.tags.into_iter().find(|t| t.tag == tag))
        .map(|t| t.message)
        .unwrap_or_default()
}
