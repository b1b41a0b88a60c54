//! [`FencedWrites`]: the scheduler's writes through a store that checks its term.
//!
//! With an etcd election, each term has a [`LeaderFence`] (the leader key and the term's
//! lease). The scheduler of that term writes through [`EtcdStore::fenced_by`]: etcd applies a
//! write only while the key is still bound to the lease, so the moment another replica could
//! lead, this one's writes fail ([`prepull_storage::StorageError::NotLeader`], 503) instead
//! of racing the new leader's.

use std::sync::Arc;

use prepull_storage::Storage;
use prepull_storage::etcd::{EtcdStore, LeaderFence};

use crate::metrics::{MeteredStorage, Metrics};

/// Makes a term's fenced store out of the server's etcd store.
#[derive(Clone)]
pub struct FencedWrites {
    store: EtcdStore,
    metrics: Metrics,
}

impl std::fmt::Debug for FencedWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FencedWrites")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl FencedWrites {
    /// Fenced views of `store`, timed in `metrics` as etcd calls.
    pub fn new(store: EtcdStore, metrics: Metrics) -> FencedWrites {
        FencedWrites { store, metrics }
    }

    /// The storage a term fenced by `fence` writes to.
    pub fn storage(&self, fence: LeaderFence) -> Arc<dyn Storage> {
        Arc::new(MeteredStorage::new(
            Arc::new(self.store.fenced_by(fence)),
            self.metrics.clone(),
            "etcd",
        ))
    }
}
