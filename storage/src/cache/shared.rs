//! [`Shared`]: what a cache's handle, its feed and its readers hold in common.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::options::CacheOptions;
use super::resource::Resource;
use crate::{Revision, Storage};

/// What the cache's handle, its feed and its readers share.
pub(crate) struct Shared {
    pub backend: Arc<dyn Storage>,
    pub resources: Vec<Arc<Resource>>,
    pub options: CacheOptions,
    /// Every change up to this revision has been applied to its resource.
    pub revision: watch::Sender<Revision>,
    /// True while the feed is following the backend (see [`super::feed`]).
    pub ready: watch::Sender<bool>,
    pub memory_reads: AtomicU64,
    pub fallback_reads: AtomicU64,
}

impl Shared {
    pub fn resource_for(&self, key: &str) -> Option<&Arc<Resource>> {
        self.resources.iter().find(|r| r.covers(key))
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready
            .send_if_modified(|now| std::mem::replace(now, ready) != ready);
    }

    pub fn count(&self, from_memory: bool) {
        let counter = if from_memory {
            &self.memory_reads
        } else {
            &self.fallback_reads
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that every change up to `revision` has been applied.
    pub fn advance(&self, revision: Revision) {
        self.revision.send_if_modified(|now| {
            let newer = revision > *now;
            if newer {
                *now = revision;
            }
            newer
        });
    }
}
