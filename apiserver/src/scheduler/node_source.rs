//! Where the scheduler's nodes come from: [`NodeSource`]. Standalone mode uses
//! [`RegisteredNodes`], the NodeImages the node agents registered; cluster mode will read the
//! main cluster's Nodes (and Pods, for `podSelector`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::cache::Cache;

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

    /// Whether jobs can target nodes through `podSelector` (needs the main cluster's Pods).
    /// When not, such jobs report so in their status.
    fn supports_pod_selector(&self) -> bool;
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
        let cache = self.cache.lock().expect("scheduler cache lock");
        cache
            .nodes()
            .filter(|node| node.object.metadata.deletion_timestamp.is_none())
            .map(|node| Node {
                name: node.object.metadata.name.clone().unwrap_or_default(),
                labels: node.object.metadata.labels.clone().unwrap_or_default(),
            })
            .collect()
    }

    fn supports_pod_selector(&self) -> bool {
        false
    }
}
