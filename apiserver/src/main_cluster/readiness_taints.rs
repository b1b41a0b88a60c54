//! Readiness taints (cluster mode): a Node may join with the taint
//! [`TAINT_KEY`]`:NoSchedule` (kubelet's `--register-with-taints`), so no pod lands on it
//! before its images are there. The taint follows the node's NodeImage condition
//! ImagesReady, which the scheduler keeps ([`crate::scheduler::images_ready`]): once True
//! (every ImagePullJob annotated `prepull.io/required-for-readiness: "true"` that targets the
//! node succeeded there, or none targets it) the server removes the taint; while False with
//! reason RequiredImageFailed the taint stays and the Node gets a Warning Event
//! ([`REQUIRED_IMAGE_FAILED`]) with the condition's message (the job, image and cause). A
//! NodeImage without the condition yet is not judged.
//!
//! Required jobs must exist before the nodes they are for join: a node no required job
//! targets when it is judged loses the taint at once.
//!
//! Inputs: a kube-rs reflector over Nodes and an informer over our NodeImages; each change
//! queues the tainted nodes it may decide, and every [`RESYNC`] all of them (so a replica that
//! becomes leader catches up). Only the leading replica writes: the taint goes through a merge
//! patch carrying the Node's resourceVersion as read, so a concurrent change (kubelet, an
//! operator) is never overwritten.

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
use prepull_api::job_condition::ConditionStatus;
use prepull_api::node_image_condition::reason;
use prepull_api::{Kind, NodeImage};
use tokio_util::sync::CancellationToken;

use super::events::{EventRecorder, Regarding};
use super::lease_election::LeaseElection;
use crate::registry::{Object, Registry};
use crate::scheduler::images_ready::images_ready;
use crate::scheduler::informer::{self, InformerEvent};
use crate::scheduler::work_queue::WorkQueue;

/// The taint a Node joins with and loses once its required images are in.
pub const TAINT_KEY: &str = "prepull.io/images-not-ready";
/// Reason of the Warning Event on a Node whose required pull failed.
pub const REQUIRED_IMAGE_FAILED: &str = reason::REQUIRED_IMAGE_FAILED;
/// Reason of the Normal Event on a Node whose taint was removed.
pub const IMAGES_READY: &str = "ImagesReady";
/// How often every tainted node is looked at again.
pub const RESYNC: Duration = Duration::from_secs(10);
/// Pause before a node whose taint could not be removed is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

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
    events: EventRecorder,
    election: LeaseElection,
    queue: WorkQueue<String>,
    node_images: Mutex<BTreeMap<String, Arc<NodeImage>>>,
    /// Failures already reported: (node, condition message).
    reported: Mutex<BTreeSet<(String, String)>>,
}

/// Runs until `stop`.
pub(super) async fn run(
    client: kube::Client,
    registry: Arc<Registry>,
    events: EventRecorder,
    election: LeaseElection,
    stop: CancellationToken,
) {
    let (store, writer) = reflector::store::<Node>();
    let readiness = Arc::new(Readiness {
        api: Api::all(client.clone()),
        nodes: store,
        events,
        election,
        queue: WorkQueue::new(),
        node_images: Mutex::new(BTreeMap::new()),
        reported: Mutex::new(BTreeSet::new()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_nodes(Api::all(client), writer, readiness.clone()));
    let images = readiness.clone();
    tasks.spawn(informer::run(
        registry,
        Kind::NodeImage,
        stop.clone(),
        move |event| images.observe_node_image(&event),
    ));
    tasks.spawn(readiness.queue.clone().run_timer(stop.clone()));
    tasks.spawn(readiness.clone().work());
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
        let Some(node_image) = self.node_images.lock().get(name).cloned() else {
            return Ok(());
        };
        // Not judged yet: the scheduler writes the condition once it knows the node.
        let Some(condition) = images_ready(&node_image) else {
            return Ok(());
        };
        let uid = node.metadata.uid.clone();
        match condition.status {
            ConditionStatus::True => {
                self.remove_taint(&node).await?;
                self.reported.lock().retain(|(node, _)| node != name);
                tracing::info!(node = %name, "readiness taints: required images in; taint removed");
                self.events
                    .normal(
                        &Regarding::node(name, uid),
                        IMAGES_READY,
                        "RemoveTaint",
                        format!("{}; taint {TAINT_KEY} removed", condition.message),
                    )
                    .await;
            }
            _ if condition.reason == reason::REQUIRED_IMAGE_FAILED => {
                let seen = (name.to_owned(), condition.message.clone());
                if self.reported.lock().insert(seen) {
                    self.events
                        .warning(
                            &Regarding::node(name, uid),
                            REQUIRED_IMAGE_FAILED,
                            "PullImage",
                            format!("{}; taint {TAINT_KEY} stays", condition.message),
                        )
                        .await;
                }
            }
            _ => {}
        }
        Ok(())
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

fn node_image(object: &Object) -> Option<(String, Arc<NodeImage>)> {
    let image: NodeImage = serde_json::from_value((*object.value()).clone()).ok()?;
    Some((image.metadata.name.clone()?, Arc::new(image)))
}
