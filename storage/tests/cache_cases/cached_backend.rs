//! [`Cached`]: any conformance [`Backend`] with a [`WatchCache`] on top, so the conformance
//! suite checks the cache against the same contract as the backends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::{Revision, Storage};

use crate::conformance::Backend;

/// Every key the conformance cases write lies under this prefix; the cache holds all of it.
pub const CONFORMANCE_PREFIX: &str = "/c/";

/// A backend `B` seen through a watch cache of [`CONFORMANCE_PREFIX`].
pub struct Cached<B> {
    inner: B,
    cache: Option<Arc<WatchCache>>,
}

impl<B: Backend> Cached<B> {
    async fn start_cache(inner: &B) -> Arc<WatchCache> {
        let cache = WatchCache::new(
            inner.store(),
            vec![CONFORMANCE_PREFIX.into()],
            CacheOptions::default(),
        )
        .expect("a valid configuration");
        assert!(
            cache.wait_until_ready(Duration::from_secs(20)).await,
            "the cache did not become ready"
        );
        Arc::new(cache)
    }

    fn cache(&self) -> &Arc<WatchCache> {
        self.cache.as_ref().expect("the cache is running")
    }
}

#[async_trait]
impl<B: Backend> Backend for Cached<B> {
    async fn new() -> Self {
        let inner = B::new().await;
        let cache = Self::start_cache(&inner).await;
        Cached {
            inner,
            cache: Some(cache),
        }
    }

    fn store(&self) -> Arc<dyn Storage> {
        self.cache().clone()
    }

    async fn write_raw(&self, key: &str, raw: &[u8]) {
        self.inner.write_raw(key, raw).await;
    }

    /// Compacts the backend and forgets the same history in the cache, so both answer
    /// `Expired` for the compacted revisions.
    async fn compact(&self, revision: Revision) {
        self.inner.compact(revision).await;
        self.cache().compact_history(revision);
    }

    async fn restart(&mut self) -> bool {
        let cache = self.cache.take().expect("the cache is running");
        let cache =
            Arc::try_unwrap(cache).expect("the case dropped its store handles before restarting");
        // The backend may only restart once nothing holds it: wait for the feed to let go.
        cache.stop().await;
        let restarted = self.inner.restart().await;
        self.cache = Some(Self::start_cache(&self.inner).await);
        restarted
    }
}
