//! Nodes drive NodeImages (OpenKruise's nodeimage controller): a Node of the main cluster gets
//! its NodeImage once it has been Ready for the configured delay (OpenKruise: 30 s, so the
//! agent can start), the NodeImage's labels follow the Node's, and it is deleted when the Node
//! goes. Nodes labelled `type=virtual-kubelet` get none. A NodeImage whose Node does not exist
//! is deleted too.
//!
//! Two inputs queue node names for one worker: a kube-rs reflector over the main cluster's
//! Nodes (it relists on 410 and backs off on failures) and an informer over our NodeImages
//! (a NodeImage deleted by hand comes back, one relabelled by hand gets the Node's labels
//! again). The worker reconciles one name at a time from those two views.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http::StatusCode;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use prepull_api::{ApiVersion, Kind, NodeImage};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cluster_nodes::ClusterNodes;
use super::events::{EventRecorder, NODE_IMAGE_CREATED, Regarding};
use crate::http::status::ApiError;
use crate::registry::{
    Body, DeleteParams, Patch, Preconditions, ReadRevision, Registry, Subresource, WriteParams,
};
use crate::scheduler::informer::{self, InformerEvent};
use crate::scheduler::work_queue::WorkQueue;

/// The field manager of the NodeImage writes made for Nodes.
pub const FIELD_MANAGER: &str = "prepull-node-lifecycle";
/// Nodes with this label (virtual-kubelet) get no NodeImage: nothing pulls images there.
pub const VIRTUAL_KUBELET_LABEL: (&str, &str) = ("type", "virtual-kubelet");

/// Pause before a node whose reconcile failed is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// What the worker shares.
#[derive(Debug)]
struct Lifecycle {
    registry: Arc<Registry>,
    nodes: Store<Node>,
    inventory: Arc<ClusterNodes>,
    events: EventRecorder,
    ready_delay: Duration,
    queue: WorkQueue<String>,
    /// When a Node without a Ready transition time was first seen Ready.
    ready_since: Mutex<HashMap<String, Instant>>,
}

/// Runs the lifecycle until `stop`: Nodes from `client`, NodeImages in `registry`, the
/// resulting inventory in `inventory`, events through `events`.
pub(super) async fn run(
    client: kube::Client,
    registry: Arc<Registry>,
    inventory: Arc<ClusterNodes>,
    events: EventRecorder,
    ready_delay: Duration,
    stop: CancellationToken,
) {
    let (store, writer) = reflector::store::<Node>();
    let lifecycle = Arc::new(Lifecycle {
        registry: registry.clone(),
        nodes: store,
        inventory,
        events,
        ready_delay,
        queue: WorkQueue::new(),
        ready_since: Mutex::new(HashMap::new()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_nodes(client, writer, lifecycle.clone()));
    let images = lifecycle.clone();
    tasks.spawn(informer::run(
        registry,
        Kind::NodeImage,
        stop.clone(),
        move |event| images.observe_node_image(&event),
    ));
    tasks.spawn(lifecycle.queue.clone().run_timer(stop.clone()));
    tasks.spawn(lifecycle.clone().work());
    stop.cancelled().await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Feeds the reflector and queues every Node that changed (and, after each full list, every
/// Node and NodeImage, so what changed while nobody watched is caught up).
async fn watch_nodes(client: kube::Client, writer: Writer<Node>, lifecycle: Arc<Lifecycle>) {
    let api: Api<Node> = Api::all(client);
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(node) | Event::Delete(node)) => {
                if let Some(name) = node.metadata.name {
                    lifecycle.queue.add(name);
                }
            }
            Ok(Event::InitDone) => {
                for node in lifecycle.nodes.state() {
                    if let Some(name) = node.metadata.name.clone() {
                        lifecycle.queue.add(name);
                    }
                }
                lifecycle.queue_all_node_images().await;
            }
            Ok(Event::Init | Event::InitApply(_)) => {}
            Err(err) => tracing::warn!(%err, "main cluster: node watch failed; retrying"),
        }
    }
}

impl Lifecycle {
    fn observe_node_image(&self, event: &InformerEvent) {
        let name = |object: &crate::registry::Object| {
            object
                .value()
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
        };
        match event {
            InformerEvent::Listed(items) => {
                for name in items.iter().filter_map(name) {
                    self.queue.add(name);
                }
            }
            InformerEvent::Deleted(object) => {
                if let Some(name) = name(object) {
                    self.queue.add(name);
                }
            }
            InformerEvent::Applied(object) => {
                let Some(name) = name(object) else { return };
                let labels: BTreeMap<String, String> = object
                    .value()
                    .pointer("/metadata/labels")
                    .and_then(|l| serde_json::from_value(l.clone()).ok())
                    .unwrap_or_default();
                // Status writes (agents' progress) leave labels alone: nothing to do for them.
                if self.inventory.labels(&name).as_ref() != Some(&labels) {
                    self.queue.add(name);
                }
            }
        }
    }

    async fn queue_all_node_images(&self) {
        let store = self.registry.store(Kind::NodeImage);
        match store.list(None, &Default::default()).await {
            Ok(list) => {
                for item in list.items {
                    if let Some(name) = item
                        .value()
                        .pointer("/metadata/name")
                        .and_then(|n| n.as_str())
                    {
                        self.queue.add(name.to_owned());
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err.message, "main cluster: listing NodeImages failed")
            }
        }
    }

    /// The worker: once the Nodes are listed, reconciles queued names one at a time.
    async fn work(self: Arc<Self>) {
        if self.nodes.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            let name = self.queue.next().await;
            if let Err(err) = self.reconcile(&name).await {
                tracing::warn!(node = %name, error = %err.message, "main cluster: node reconcile failed; retrying");
                self.queue.add_after(name.clone(), RETRY_DELAY);
            }
            self.queue.done(&name);
        }
    }

    async fn reconcile(&self, name: &str) -> Result<(), ApiError> {
        let node = self.nodes.get(&ObjectRef::new(name));
        let store = self.registry.store(Kind::NodeImage);
        let image = match store.get(None, name, ReadRevision::Latest).await {
            Ok(object) => Some(
                serde_json::from_value::<NodeImage>((*object.value()).clone())
                    .map_err(|err| ApiError::internal(format!("a stored NodeImage: {err}")))?,
            ),
            Err(err) if err.code == StatusCode::NOT_FOUND => None,
            Err(err) => return Err(err),
        };
        let node = match node {
            Some(node) if node.metadata.deletion_timestamp.is_none() => node,
            _ => {
                // The Node is gone: so is its NodeImage.
                self.inventory.remove(name);
                self.ready_since.lock().remove(name);
                if let Some(image) = image {
                    self.delete(name, image.metadata.uid.clone()).await?;
                }
                return Ok(());
            }
        };
        let labels = node.metadata.labels.clone().unwrap_or_default();
        if is_virtual_kubelet(&labels) {
            self.inventory.remove(name);
            return Ok(());
        }
        match image {
            Some(image) => {
                if image.metadata.labels.clone().unwrap_or_default() != labels {
                    self.relabel(name, &labels).await?;
                }
                self.inventory.put(name, &labels);
            }
            None => match self.ready_wait(name, &node) {
                Readiness::NotReady => self.inventory.remove(name),
                Readiness::After(delay) => self.queue.add_after(name.to_owned(), delay),
                Readiness::Ready => {
                    self.create(name, &labels).await?;
                    self.inventory.put(name, &labels);
                }
            },
        }
        Ok(())
    }

    /// Whether `node` has been Ready for the delay, or how long is left.
    fn ready_wait(&self, name: &str, node: &Node) -> Readiness {
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        let Some(ready) = ready.filter(|c| c.status == "True") else {
            self.ready_since.lock().remove(name);
            return Readiness::NotReady;
        };
        let elapsed = match &ready.last_transition_time {
            Some(since) => {
                Duration::try_from(Timestamp::now().duration_since(since.0)).unwrap_or_default()
            }
            None => self
                .ready_since
                .lock()
                .entry(name.to_owned())
                .or_insert_with(Instant::now)
                .elapsed(),
        };
        match self.ready_delay.checked_sub(elapsed) {
            Some(left) if !left.is_zero() => Readiness::After(left),
            _ => Readiness::Ready,
        }
    }

    async fn create(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
        let version = ApiVersion::PREFERRED;
        let body = json!({
            "apiVersion": version.api_version(),
            "kind": "NodeImage",
            "metadata": {"name": name, "labels": labels},
        });
        let store = self.registry.store(Kind::NodeImage);
        match store
            .create(None, Body::Value(body), version, &write_params())
            .await
        {
            Ok(written) => {
                tracing::info!(node = %name, "main cluster: NodeImage created for the Node");
                let uid = written
                    .object
                    .value()
                    .pointer("/metadata/uid")
                    .and_then(|u| u.as_str())
                    .map(str::to_owned);
                self.events
                    .normal(
                        &Regarding::node_image(name, uid),
                        NODE_IMAGE_CREATED,
                        "Create",
                        format!("NodeImage created for Node {name}, Ready"),
                    )
                    .await;
                Ok(())
            }
            // Another replica made it first.
            Err(err) if err.code == StatusCode::CONFLICT => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn relabel(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
        let patch = json!([{"op": "add", "path": "/metadata/labels", "value": labels}]);
        let store = self.registry.store(Kind::NodeImage);
        match store
            .patch(
                None,
                name,
                &Patch::Json(serde_json::to_vec(&patch).expect("json").into()),
                ApiVersion::PREFERRED,
                Subresource::Main,
                &write_params(),
            )
            .await
        {
            Ok(_) => {
                tracing::info!(node = %name, "main cluster: NodeImage labels follow the Node's");
                Ok(())
            }
            Err(err) if err.code == StatusCode::NOT_FOUND => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn delete(&self, name: &str, uid: Option<String>) -> Result<(), ApiError> {
        let params = DeleteParams {
            preconditions: Preconditions {
                uid,
                resource_version: None,
            },
            ..DeleteParams::default()
        };
        let store = self.registry.store(Kind::NodeImage);
        match store.delete(None, name, &params).await {
            Ok(_) => {
                tracing::info!(node = %name, "main cluster: NodeImage deleted with its Node");
                Ok(())
            }
            Err(err) if err.code == StatusCode::NOT_FOUND || err.code == StatusCode::CONFLICT => {
                Ok(())
            }
            Err(err) => Err(err),
        }
    }
}

/// Whether a Node has waited long enough after becoming Ready.
enum Readiness {
    NotReady,
    After(Duration),
    Ready,
}

fn is_virtual_kubelet(labels: &BTreeMap<String, String>) -> bool {
    let (key, value) = VIRTUAL_KUBELET_LABEL;
    labels.get(key).is_some_and(|v| v == value)
}

fn write_params() -> WriteParams {
    WriteParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..WriteParams::default()
    }
}
