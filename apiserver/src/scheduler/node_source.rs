//! Where the scheduler's nodes come from: [`NodeSource`]. Standalone mode uses
//! [`RegisteredNodes`], the NodeImages the node agents registered; cluster mode reads the
//! main cluster's Nodes and, for `podSelector`, its Pods
//! ([`crate::main_cluster::ClusterNodes`]).

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use tokio::sync::broadcast;

use tokio_util::sync::CancellationToken;

use super::cache::Cache;
use super::images_ready::{self, Trigger};
use super::{Context, Work};

/// A node a job can target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// The node inventory.
pub trait NodeSource: Send + Sync + fmt::Debug {
    /// Every node, sorted by name.
    fn nodes(&self) -> Vec<Node>;

    /// The node `name`, if in the inventory.
    fn node(&self, name: &str) -> Option<Node> {
        self.nodes().into_iter().find(|node| node.name == name)
    }

    /// Whether jobs can target nodes through `podSelector` (needs the main cluster's Pods).
    /// When not, such jobs report so in their status.
    fn supports_pod_selector(&self) -> bool;

    /// The names of the nodes running active pods (not finished, not being deleted, bound to a
    /// node) that match `selector` in `namespace`, or `None` while that is not known yet (the
    /// job then waits: a [`NodeChange::Pods`] follows once it is known). Sources without Pods
    /// answer `None`.
    fn pod_selector_nodes(
        &self,
        _namespace: &str,
        _selector: &LabelSelector,
    ) -> Option<BTreeSet<String>> {
        None
    }

    /// Notifications of changes that can alter jobs' targets, for a scheduler to queue the
    /// jobs again; `None` when the source has none to give (its changes show up otherwise,
    /// as NodeImage changes do). Each call subscribes a new receiver.
    fn changes(&self) -> Option<broadcast::Receiver<NodeChange>> {
        None
    }
}

/// What changed in a [`NodeSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeChange {
    /// The set of nodes or their labels: every job's targets may differ.
    Nodes,
    /// Pods in this namespace (or what is known about them): its `podSelector` jobs' targets
    /// may differ.
    Pods { namespace: String },
}

/// Standalone mode's inventory: each registered NodeImage is a node, with its labels.
#[derive(Debug)]
pub struct RegisteredNodes {
    cache: Arc<Mutex<Cache>>,
}

impl RegisteredNodes {
    /// The nodes of the scheduler's cache.
    pub fn new(cache: Arc<Mutex<Cache>>) -> RegisteredNodes {
        RegisteredNodes { cache }
    }
}

impl NodeSource for RegisteredNodes {
    fn nodes(&self) -> Vec<Node> {
        let cache = self.cache.lock();
        cache
            .nodes()
            .filter(|node| node.object.metadata.deletion_timestamp.is_none())
            .map(|node| Node {
                name: node.object.metadata.name.clone().unwrap_or_default(),
                labels: node.object.metadata.labels.clone().unwrap_or_default(),
            })
            .collect()
    }

    fn node(&self, name: &str) -> Option<Node> {
        let node = self.cache.lock().node(name)?.object;
        if node.metadata.deletion_timestamp.is_some() {
            return None;
        }
        Some(Node {
            name: name.to_owned(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
        })
    }

    fn supports_pod_selector(&self) -> bool {
        false
    }
}

/// Queues the jobs each change of `changes` affects (every job for [`NodeChange::Nodes`] or a
/// missed notification, the namespace's jobs for [`NodeChange::Pods`]) until `stop`.
pub(super) async fn forward_changes(
    ctx: Arc<Context>,
    mut changes: broadcast::Receiver<NodeChange>,
    stop: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            () = stop.cancelled() => return,
            change = changes.recv() => change,
        };
        let namespace = match change {
            Ok(NodeChange::Pods { namespace }) => Some(namespace),
            Ok(NodeChange::Nodes) | Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for key in ctx.cache().job_keys() {
            if namespace.as_ref().is_none_or(|ns| *ns == key.namespace) {
                ctx.queue.add(Work::PullJob(key));
            }
        }
        let trigger = if namespace.is_some() {
            Trigger::Pods
        } else {
            Trigger::Nodes
        };
        images_ready::queue_all(&ctx, trigger);
    }
}
