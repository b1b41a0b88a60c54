//! [`ClusterNodes`]: the scheduler's node inventory in cluster mode. The nodes are the main
//! cluster's Nodes that have a NodeImage (kept by [`super::node_lifecycle`]), with the Node's
//! labels; `podSelector` is answered from [`PodSelections`]. Every change is broadcast so the
//! scheduler queues the jobs it affects.

use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use tokio::sync::broadcast;

use super::pod_selections::PodSelections;
use crate::scheduler::node_source::{Node, NodeChange, NodeSource};

/// Room for notifications a slow scheduler has not read yet; past it, the scheduler misses
/// some and queues every job instead.
pub(super) const CHANGE_BUFFER: usize = 256;

/// The main cluster's nodes and pod placements.
#[derive(Debug)]
pub struct ClusterNodes {
    nodes: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
    pods: Arc<PodSelections>,
    changes: broadcast::Sender<NodeChange>,
}

impl ClusterNodes {
    /// An empty inventory whose `podSelector` answers come from `pods`, broadcasting on
    /// `changes`.
    pub(super) fn new(
        pods: Arc<PodSelections>,
        changes: broadcast::Sender<NodeChange>,
    ) -> ClusterNodes {
        ClusterNodes {
            nodes: RwLock::new(BTreeMap::new()),
            pods,
            changes,
        }
    }

    /// Node `name` has a NodeImage and these labels.
    pub(super) fn put(&self, name: &str, labels: &BTreeMap<String, String>) {
        let mut nodes = self.nodes.write();
        if nodes.get(name) == Some(labels) {
            return;
        }
        nodes.insert(name.to_owned(), labels.clone());
        drop(nodes);
        let _ = self.changes.send(NodeChange::Nodes);
    }

    /// Node `name` is gone.
    pub(super) fn remove(&self, name: &str) {
        let removed = self.nodes.write().remove(name).is_some();
        if removed {
            let _ = self.changes.send(NodeChange::Nodes);
        }
    }

    /// The labels of node `name`, when it is in the inventory.
    pub(super) fn labels(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.nodes.read().get(name).cloned()
    }
}

impl NodeSource for ClusterNodes {
    fn node(&self, name: &str) -> Option<Node> {
        Some(Node {
            name: name.to_owned(),
            labels: self.labels(name)?,
        })
    }

    fn nodes(&self) -> Vec<Node> {
        self.nodes
            .read()
            .iter()
            .map(|(name, labels)| Node {
                name: name.clone(),
                labels: labels.clone(),
            })
            .collect()
    }

    fn supports_pod_selector(&self) -> bool {
        true
    }

    fn pod_selector_nodes(
        &self,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Option<BTreeSet<String>> {
        self.pods.nodes(namespace, selector)
    }

    fn changes(&self) -> Option<broadcast::Receiver<NodeChange>> {
        Some(self.changes.subscribe())
    }
}
