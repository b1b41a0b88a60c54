//! Readiness taints (cluster mode): a Node may join with the taint
//! [`TAINT_KEY`]`:NoSchedule` (kubelet's `--register-with-taints`), so no pod lands on it
//! before its images are there. The server removes the taint once every ImagePullJob that
//! targets the node and carries [`REQUIRED_ANNOTATION`]` = "true"` has succeeded on it, or at
//! once when no such job targets it. A node whose required pull failed keeps the taint and gets
//! a Warning Event ([`REQUIRED_IMAGE_FAILED`]) naming the job and the agent's message.
//!
//! Only Nodes in the scheduler's inventory (with their NodeImage) are judged (a new node's NodeImage comes once it has
//! been Ready for the delay, see [`super::node_lifecycle`]): before that no job could have
//! run there. A required job that completed without ever reaching the node (a `type: Always`
//! job that finished before the node joined) no longer targets it.
//!
//! Required jobs must exist before the nodes they are for join: a node no required job
//! targets when it is judged loses the taint at once.
//!
//! Inputs: a kube-rs reflector over Nodes, informers over our ImagePullJobs and NodeImages,
//! the inventory's changes; each change queues the tainted nodes it may decide, and every [`RESYNC`] all of them (so a
//! replica that becomes leader catches up). Only the leading replica writes: the taint goes
//! through a merge patch carrying the Node's resourceVersion as read, so a concurrent change
//! (kubelet, an operator) is never overwritten.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::Api;
use kube::api::PatchParams;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use parking_lot::Mutex;
use prepull_api::reference::ImageReference;
use prepull_api::{ImagePullJob, Kind, NodeImage};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::cluster_nodes::ClusterNodes;
use super::events::{EventRecorder, Regarding};
use super::lease_election::LeaseElection;
use crate::registry::{Object, Registry};
use crate::scheduler::cache::JobKey;
use crate::scheduler::informer::{self, InformerEvent};
use crate::scheduler::node_source::NodeSource;
use crate::scheduler::node_task::{self, TaskState};
use crate::scheduler::targets::resolve_targets;
use crate::scheduler::work_queue::WorkQueue;

/// The taint a Node joins with and loses once its required images are in.
pub const TAINT_KEY: &str = "prepull.io/images-not-ready";
/// The annotation that makes an ImagePullJob required for the readiness of its nodes.
pub const REQUIRED_ANNOTATION: &str = "prepull.io/required-for-readiness";
/// Reason of the Warning Event on a Node whose required pull failed.
pub const REQUIRED_IMAGE_FAILED: &str = "RequiredImageFailed";
/// Reason of the Normal Event on a Node whose taint was removed.
pub const IMAGES_READY: &str = "ImagesReady";
/// How often every tainted node is looked at again.
pub const RESYNC: Duration = Duration::from_secs(10);
/// Pause before a node whose taint could not be removed is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// How a tainted node's required images stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every required job succeeded there (or none targets it): the taint goes.
    Ready,
    /// Some required job has not finished there yet.
    Waiting,
    /// Required jobs that failed there: the taint stays.
    Failed(Vec<Failure>),
}

/// A required job that failed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub job: JobKey,
    pub uid: String,
    pub image: String,
    /// The agent's (or scheduler's) message on the tag.
    pub message: String,
}

/// Whether `job` is required for the readiness of the nodes it targets.
pub fn is_required(job: &ImagePullJob) -> bool {
    job.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REQUIRED_ANNOTATION))
        .is_some_and(|value| value == "true")
}

/// The verdict for a node with `node_image`, over the required `jobs` that target it.
pub fn verdict<'a>(
    node_image: &NodeImage,
    jobs: impl IntoIterator<Item = (&'a JobKey, &'a ImagePullJob)>,
) -> Verdict {
    let mut waiting = false;
    let mut failures = Vec::new();
    for (key, job) in jobs {
        let Ok(reference) = ImageReference::parse(&job.spec.image) else {
            continue;
        };
        let (image, tag) = reference.name_and_tag();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let completed = job
            .status
            .as_ref()
            .is_some_and(|s| s.completion_time.is_some());
        match node_task::task_state(node_image, &image, &tag, &uid) {
            TaskState::Succeeded => {}
            TaskState::Failed(message) => failures.push(Failure {
                job: key.clone(),
                uid,
                image: job.spec.image.clone(),
                message,
            }),
            TaskState::Unassigned if completed => {}
            TaskState::Unassigned | TaskState::Running => waiting = true,
        }
    }
    if !failures.is_empty() {
        Verdict::Failed(failures)
    } else if waiting {
        Verdict::Waiting
    } else {
        Verdict::Ready
    }
}

/// Whether `node` carries the readiness taint.
fn tainted(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|taints| taints.iter().any(|t| t.key == TAINT_KEY))
}

/// What the worker shares.
#[derive(Debug)]
struct Readiness {
    api: Api<Node>,
    nodes: Store<Node>,
    inventory: Arc<ClusterNodes>,
    events: EventRecorder,
    election: LeaseElection,
    queue: WorkQueue<String>,
    /// The required jobs.
    jobs: Mutex<BTreeMap<JobKey, Arc<ImagePullJob>>>,
    node_images: Mutex<BTreeMap<String, Arc<NodeImage>>>,
    /// Failures already reported: (node, job uid, message).
    reported: Mutex<BTreeSet<(String, String, String)>>,
}

/// Runs until `stop`.
pub(super) async fn run(
    client: kube::Client,
    registry: Arc<Registry>,
    inventory: Arc<ClusterNodes>,
    events: EventRecorder,
    election: LeaseElection,
    stop: CancellationToken,
) {
    let (store, writer) = reflector::store::<Node>();
    let readiness = Arc::new(Readiness {
        api: Api::all(client.clone()),
        nodes: store,
        inventory,
        events,
        election,
        queue: WorkQueue::new(),
        jobs: Mutex::new(BTreeMap::new()),
        node_images: Mutex::new(BTreeMap::new()),
        reported: Mutex::new(BTreeSet::new()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_nodes(Api::all(client), writer, readiness.clone()));
    let jobs = readiness.clone();
    tasks.spawn(informer::run(
        registry.clone(),
        Kind::ImagePullJob,
        stop.clone(),
        move |event| jobs.observe_job(&event),
    ));
    let images = readiness.clone();
    tasks.spawn(informer::run(
        registry,
        Kind::NodeImage,
        stop.clone(),
        move |event| images.observe_node_image(&event),
    ));
    tasks.spawn(readiness.queue.clone().run_timer(stop.clone()));
    tasks.spawn(readiness.clone().work());
    // The inventory changed (a node joined it, labels changed): its nodes may be judged now.
    if let Some(mut changes) = readiness.inventory.changes() {
        let inventory = readiness.clone();
        tasks.spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        inventory.queue_tainted();
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
    let resync = readiness.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(RESYNC);
        loop {
            every.tick().await;
            resync.queue_tainted();
        }
    });
    stop.cancelled().await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Feeds the reflector; queues tainted Nodes that changed, and all of them after each list.
async fn watch_nodes(api: Api<Node>, writer: Writer<Node>, readiness: Arc<Readiness>) {
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(node)) if tainted(&node) => {
                if let Some(name) = node.metadata.name {
                    readiness.queue.add(name);
                }
            }
            Ok(Event::InitDone) => readiness.queue_tainted(),
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "readiness taints: node watch failed; retrying"),
        }
    }
}

impl Readiness {
    /// Queues every Node with the taint.
    fn queue_tainted(&self) {
        for node in self.nodes.state() {
            if tainted(&node)
                && let Some(name) = node.metadata.name.clone()
            {
                self.queue.add(name);
            }
        }
    }

    fn observe_job(&self, event: &InformerEvent) {
        let mut jobs = self.jobs.lock();
        // Whether a required job changed or went: then any tainted node may be decided now.
        let relevant = match event {
            InformerEvent::Listed(items) => {
                *jobs = items.iter().filter_map(required_job).collect();
                true
            }
            InformerEvent::Applied(object) => match required_job(object) {
                Some((key, job)) => {
                    jobs.insert(key, job);
                    true
                }
                None => job_key(object).is_some_and(|key| jobs.remove(&key).is_some()),
            },
            InformerEvent::Deleted(object) => {
                job_key(object).is_some_and(|key| jobs.remove(&key).is_some())
            }
        };
        drop(jobs);
        if relevant {
            self.queue_tainted();
        }
    }

    fn observe_node_image(&self, event: &InformerEvent) {
        let mut images = self.node_images.lock();
        let mut changed = Vec::new();
        match event {
            InformerEvent::Listed(items) => {
                *images = items.iter().filter_map(node_image).collect();
                changed.extend(images.keys().cloned());
            }
            InformerEvent::Applied(object) => {
                if let Some((name, image)) = node_image(object) {
                    images.insert(name.clone(), image);
                    changed.push(name);
                }
            }
            InformerEvent::Deleted(object) => {
                if let Some((name, _)) = node_image(object) {
                    images.remove(&name);
                }
            }
        }
        drop(images);
        for name in changed {
            let is_tainted = self
                .nodes
                .get(&ObjectRef::new(&name))
                .is_some_and(|node| tainted(&node));
            if is_tainted {
                self.queue.add(name);
            }
        }
    }

    /// The worker: once the Nodes are listed, decides queued nodes one at a time.
    async fn work(self: Arc<Self>) {
        if self.nodes.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            let name = self.queue.next().await;
            if let Err(err) = self.reconcile(&name).await {
                tracing::warn!(node = %name, %err, "readiness taints: reconcile failed; retrying");
                self.queue.add_after(name.clone(), RETRY_DELAY);
            }
            self.queue.done(&name);
        }
    }

    async fn reconcile(&self, name: &str) -> Result<(), kube::Error> {
        if !self.election.is_leading() {
            return Ok(());
        }
        let Some(node) = self.nodes.get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        if !tainted(&node) || node.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        // Judged only once the node is in the scheduler's inventory (its NodeImage exists and
        // jobs can target it): before, no required job could be seen targeting it.
        if self.inventory.labels(name).is_none() {
            return Ok(());
        }
        let Some(node_image) = self.node_images.lock().get(name).cloned() else {
            return Ok(());
        };
        let jobs: Vec<(JobKey, Arc<ImagePullJob>)> = self
            .jobs
            .lock()
            .iter()
            .map(|(key, job)| (key.clone(), job.clone()))
            .collect();
        let mut targeting = Vec::new();
        for (key, job) in &jobs {
            if job.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match resolve_targets(&job.spec.template, &key.namespace, self.inventory.as_ref()) {
                Some(targets) if targets.contains(name) => targeting.push((key, job.as_ref())),
                Some(_) => {}
                // Pods still being listed: not known yet; looked at again on the resync.
                None => return Ok(()),
            }
        }
        let uid = node.metadata.uid.clone();
        match verdict(&node_image, targeting) {
            Verdict::Waiting => Ok(()),
            Verdict::Failed(failures) => {
                for failure in failures {
                    let seen = (
                        name.to_owned(),
                        failure.uid.clone(),
                        failure.message.clone(),
                    );
                    if !self.reported.lock().insert(seen) {
                        continue;
                    }
                    let note = format!(
                        "required image {} of ImagePullJob {} failed on this node: {}; taint {TAINT_KEY} stays",
                        failure.image, failure.job, failure.message
                    );
                    self.events
                        .warning(
                            &Regarding::node(name, uid.clone()),
                            REQUIRED_IMAGE_FAILED,
                            "PullImage",
                            note,
                        )
                        .await;
                }
                Ok(())
            }
            Verdict::Ready => {
                self.remove_taint(&node).await?;
                self.reported.lock().retain(|(node, _, _)| node != name);
                tracing::info!(node = %name, "readiness taints: required images in; taint removed");
                self.events
                    .normal(
                        &Regarding::node(name, uid),
                        IMAGES_READY,
                        "RemoveTaint",
                        format!("every required image is on the node; taint {TAINT_KEY} removed"),
                    )
                    .await;
                Ok(())
            }
        }
    }

    /// Removes the taint from `node`, if it is still the Node as read: a merge patch that
    /// replaces the taints and carries the read resourceVersion, so kube-apiserver refuses it
    /// (409) after any concurrent change and the next pass decides again.
    async fn remove_taint(&self, node: &Node) -> Result<(), kube::Error> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let kept: Vec<Taint> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key != TAINT_KEY)
            .collect();
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": kept},
        });
        self.api
            .patch(
                &name,
                &PatchParams::default(),
                &kube::api::Patch::Merge(patch),
            )
            .await?;
        Ok(())
    }
}

fn job_key(object: &Object) -> Option<JobKey> {
    let value = object.value();
    Some(JobKey {
        namespace: value.pointer("/metadata/namespace")?.as_str()?.to_owned(),
        name: value.pointer("/metadata/name")?.as_str()?.to_owned(),
    })
}

fn required_job(object: &Object) -> Option<(JobKey, Arc<ImagePullJob>)> {
    let job: ImagePullJob = serde_json::from_value((*object.value()).clone()).ok()?;
    if !is_required(&job) {
        return None;
    }
    Some((job_key(object)?, Arc::new(job)))
}

fn node_image(object: &Object) -> Option<(String, Arc<NodeImage>)> {
    let image: NodeImage = serde_json::from_value((*object.value()).clone()).ok()?;
    Some((image.metadata.name.clone()?, Arc::new(image)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, uid: &str, completed: bool) -> (JobKey, ImagePullJob) {
        let mut value = json!({
            "apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": name, "namespace": "default", "uid": uid,
                         "annotations": {REQUIRED_ANNOTATION: "true"}},
            "spec": {"image": format!("registry.example/{name}:v1")},
        });
        if completed {
            value["status"] = json!({"completionTime": "2026-01-01T00:00:00Z"});
        }
        let key = JobKey {
            namespace: "default".to_owned(),
            name: name.to_owned(),
        };
        (key, serde_json::from_value(value).expect("job"))
    }

    /// A NodeImage with a tag per `(job, uid, phase)` (`None`: no result yet).
    fn node_image(tags: &[(&str, &str, Option<&str>)]) -> NodeImage {
        let mut spec = serde_json::Map::new();
        let mut status = serde_json::Map::new();
        for (name, uid, phase) in tags {
            let image = format!("registry.example/{name}");
            spec.insert(
                image.clone(),
                json!({"tags": [{"tag": "v1", "version": 1,
                    "ownerReferences": [{"apiVersion": "apps.kruise.io/v1alpha1",
                        "kind": "ImagePullJob", "name": name, "namespace": "default",
                        "uid": uid}]}]}),
            );
            if let Some(phase) = phase {
                status.insert(
                    image,
                    json!({"tags": [{"tag": "v1", "version": 1, "phase": phase,
                        "message": format!("{phase} here")}]}),
                );
            }
        }
        serde_json::from_value(json!({
            "apiVersion": "apps.kruise.io/v1alpha1", "kind": "NodeImage",
            "metadata": {"name": "n1"},
            "spec": {"images": spec},
            "status": {"desired": 0, "imageStatuses": status},
        }))
        .expect("node image")
    }

    #[test]
    fn a_node_no_required_job_targets_is_ready() {
        assert_eq!(verdict(&node_image(&[]), []), Verdict::Ready);
    }

    #[test]
    fn ready_once_every_required_job_succeeded_there() {
        let (ka, a) = job("a", "ua", false);
        let (kb, b) = job("b", "ub", false);
        let running = node_image(&[("a", "ua", Some("Succeeded")), ("b", "ub", None)]);
        assert_eq!(verdict(&running, [(&ka, &a), (&kb, &b)]), Verdict::Waiting);
        let done = node_image(&[
            ("a", "ua", Some("Succeeded")),
            ("b", "ub", Some("Succeeded")),
        ]);
        assert_eq!(verdict(&done, [(&ka, &a), (&kb, &b)]), Verdict::Ready);
    }

    #[test]
    fn a_failed_required_pull_keeps_the_node_with_the_cause() {
        let (ka, a) = job("a", "ua", false);
        let failed = node_image(&[("a", "ua", Some("Failed"))]);
        let Verdict::Failed(failures) = verdict(&failed, [(&ka, &a)]) else {
            panic!("a failure");
        };
        assert_eq!(failures[0].job, ka);
        assert_eq!(failures[0].message, "Failed here");
    }

    #[test]
    fn a_job_not_yet_handed_to_the_node_waits_unless_it_completed_without_it() {
        let (ka, a) = job("a", "ua", false);
        assert_eq!(verdict(&node_image(&[]), [(&ka, &a)]), Verdict::Waiting);
        let (kc, c) = job("c", "uc", true);
        assert_eq!(verdict(&node_image(&[]), [(&kc, &c)]), Verdict::Ready);
    }

    #[test]
    fn only_the_annotation_true_makes_a_job_required() {
        let (_, mut a) = job("a", "ua", false);
        assert!(is_required(&a));
        a.metadata.annotations = Some([(REQUIRED_ANNOTATION.to_owned(), "yes".to_owned())].into());
        assert!(!is_required(&a));
    }
}
