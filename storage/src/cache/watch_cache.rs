//! [`WatchCache`]: the [`Storage`] implementation that serves reads and watches of cached
//! prefixes from memory and passes everything else to the backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::feed;
use super::freshness::ReadFreshness;
use super::options::{CacheConfigError, CacheOptions};
use super::page::{PageRequest, read_page};
use super::resource::Resource;
use super::shared::Shared;
use super::watcher::{CacheWatchItem, CacheWatchStream, Watcher};
use crate::{
    KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream, continue_token,
};

/// Counts describing what a cache holds (for metrics and the memory benchmark).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub objects: usize,
    /// Serialized bytes of the current objects.
    pub payload_bytes: usize,
    pub history_events: usize,
    pub revision: Revision,
    pub ready: bool,
    /// Gets and lists under cached prefixes answered from memory, since the cache started.
    pub memory_reads: u64,
    /// Gets and lists under cached prefixes the backend answered (cache not ready or not
    /// fresh enough in time, or a revision outside the cache's history).
    pub fallback_reads: u64,
}

/// A watch cache over a [`Storage`] backend: reads and watches under the cached prefixes are
/// served from memory, writes and everything else go to the backend. See [`crate::cache`] for
/// the design and its `feed.rs` for how the cache follows the backend and recovers.
///
/// Semantics of each [`Storage`] call:
/// - `create`, `update`, `delete`, `current_revision`: the backend's, unchanged.
/// - `get`, `list` without revision or continue token: [`ReadFreshness::Consistent`]. The
///   cache asks the backend for its current revision and waits (at most
///   [`CacheOptions::freshness_timeout`]) until it has applied every change up to it, then
///   answers from memory; a list right after a create sees it. On timeout, or while the cache is
///   not [ready](WatchCache::is_ready), the backend answers instead.
/// - `list` with a revision or continue token: from memory while the cache's history covers that
///   revision (pages of one list all come from the same revision), otherwise from the backend.
/// - `watch` after a revision: from the history ring, then live. A revision older than the
///   ring goes to the backend, or is [`StorageError::Expired`] if
///   [`CacheOptions::old_watches_to_backend`] is off. Before the first load completes, and
///   while a value under the prefix is corrupt, the backend serves it. A watcher that falls
///   behind the ring while it runs ends with `Expired` either way.
/// - Keys and prefixes not under a cached prefix: the backend.
///
/// Dropping the cache stops its feed; watches it serves end with
/// [`StorageError::Unavailable`].
pub struct WatchCache {
    shared: Arc<Shared>,
    feed: JoinHandle<()>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field(
                "prefixes",
                &self
                    .shared
                    .resources
                    .iter()
                    .map(|r| r.prefix())
                    .collect::<Vec<_>>(),
            )
            .field("revision", &self.revision())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Drop for WatchCache {
    fn drop(&mut self) {
        self.feed.abort();
        self.shared.set_ready(false);
        for resource in &self.shared.resources {
            resource.close();
        }
    }
}

impl WatchCache {
    /// Starts a cache of `prefixes` (resource prefixes, each ending with `/`) over `backend`.
    /// Loading begins in the background at once; see [`WatchCache::wait_until_ready`].
    /// Must be called within a tokio runtime.
    pub fn new(
        backend: Arc<dyn Storage>,
        prefixes: Vec<String>,
        options: CacheOptions,
    ) -> Result<WatchCache, CacheConfigError> {
        options.validate(&prefixes)?;
        let resources = prefixes
            .into_iter()
            .map(|prefix| Arc::new(Resource::new(prefix, options.history_capacity)))
            .collect();
        let shared = Arc::new(Shared {
            backend,
            resources,
            options,
            revision: watch::Sender::new(0),
            ready: watch::Sender::new(false),
            memory_reads: AtomicU64::new(0),
            fallback_reads: AtomicU64::new(0),
        });
        let feed = tokio::spawn(feed::run(shared.clone()));
        Ok(WatchCache { shared, feed })
    }

    /// Stops the feed and waits until it has let go of the upstream watch; watches the cache
    /// serves end with [`StorageError::Unavailable`]. Dropping the cache does the same without
    /// waiting.
    pub async fn stop(mut self) {
        self.feed.abort();
        // The feed only ends by being aborted; its result says nothing more.
        let _ = (&mut self.feed).await;
    }

    /// The backend this cache reads from and writes to.
    pub fn backend(&self) -> &Arc<dyn Storage> {
        &self.shared.backend
    }

    /// The revision up to which every change in the backend has been applied to the cache.
    /// Grows with every change under the watch root, cached prefix or not.
    pub fn revision(&self) -> Revision {
        *self.shared.revision.borrow()
    }

    /// True while the cache is loaded and following the backend. When false, consistent reads
    /// go to the backend; the API server may report the cache in `/readyz`.
    pub fn is_ready(&self) -> bool {
        *self.shared.ready.borrow()
    }

    /// Waits at most `timeout` for the cache to become ready; true if it did.
    pub async fn wait_until_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.shared.ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits at most `timeout` for [`WatchCache::revision`] to reach `revision`; true if it
    /// did. A watch consumer can use this to learn that time passed without events, though
    /// [`WatchCache::watch_with_progress`] is the way to get bookmarks that are safe to send.
    pub async fn wait_for_revision(&self, revision: Revision, timeout: Duration) -> bool {
        let mut current = self.shared.revision.subscribe();
        tokio::time::timeout(timeout, current.wait_for(|r| *r >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Forgets cached history up to `revision`, as a backend compaction does: watches from and
    /// reads at earlier revisions no longer come from memory.
    pub fn compact_history(&self, revision: Revision) {
        for resource in &self.shared.resources {
            resource.write().history.compact(revision);
        }
    }

    /// What the cache holds now.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            revision: self.revision(),
            ready: self.is_ready(),
            memory_reads: self.shared.memory_reads.load(Ordering::Relaxed),
            fallback_reads: self.shared.fallback_reads.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for resource in &self.shared.resources {
            let state = resource.read();
            stats.objects += state.objects.len();
            stats.payload_bytes += state.payload_bytes();
            stats.history_events += state.history.len();
        }
        stats
    }

    /// [`Storage::get`] with the freshness of the caller's choice.
    pub async fn get_with(
        &self,
        key: &str,
        freshness: ReadFreshness,
    ) -> Result<KeyValue, StorageError> {
        let Some(resource) = self.shared.resource_for(key) else {
            return self.shared.backend.get(key).await;
        };
        if !self.shared.fresh_enough(freshness).await? {
            self.shared.count(false);
            return self.shared.backend.get(key).await;
        }
        let found = {
            let state = resource.read();
            state.loaded.then(|| {
                state
                    .objects
                    .get_key_value(key)
                    .map(|(key, object)| object.to_key_value(key))
            })
        };
        self.shared.count(found.is_some());
        match found {
            Some(Some(kv)) => Ok(kv),
            Some(None) => Err(StorageError::NotFound { key: key.into() }),
            None => self.shared.backend.get(key).await,
        }
    }

    /// [`Storage::list`] with the freshness of the caller's choice. `freshness` applies only
    /// when `options` names neither a revision nor a continue token (those read at exactly the
    /// revision they name).
    pub async fn list_with(
        &self,
        prefix: &str,
        options: &ListOptions,
        freshness: ReadFreshness,
    ) -> Result<ListPage, StorageError> {
        let Some(resource) = self.shared.resource_for(prefix) else {
            return self.shared.backend.list(prefix, options).await;
        };
        let limit = options
            .limit
            .filter(|l| *l > 0)
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        let exact = match &options.continue_token {
            Some(token) => Some(continue_token::decode(prefix, token)?),
            None => options.revision.map(|revision| continue_token::Continue {
                revision,
                start_key: prefix.to_string(),
            }),
        };
        let served = match exact {
            Some(at) => {
                self.page_at(resource, prefix, &at.start_key, limit, at.revision)
                    .await?
            }
            None => self.latest_page(resource, prefix, limit, freshness).await?,
        };
        self.shared.count(served.is_some());
        match served {
            Some(page) => Ok(page),
            None => self.shared.backend.list(prefix, options).await,
        }
    }

    /// A watch that also reports progress: after `progress_every` without an event (if given),
    /// it yields [`CacheWatchItem::Progress`] with the revision every change has been delivered
    /// up to. Watches the backend serves (outside the cached prefixes, or before the first load)
    /// carry no progress reports.
    pub async fn watch_with_progress(
        &self,
        prefix: &str,
        after: Revision,
        progress_every: Option<Duration>,
    ) -> Result<CacheWatchStream, StorageError> {
        let from_backend = |stream: WatchStream| -> CacheWatchStream {
            stream.map(|item| item.map(CacheWatchItem::Event)).boxed()
        };
        let Some(resource) = self.shared.resource_for(prefix) else {
            return Ok(from_backend(
                self.shared.backend.watch(prefix, after).await?,
            ));
        };
        let oldest = {
            let state = resource.read();
            (state.loaded && state.damage.is_none()).then(|| state.history.oldest())
        };
        match oldest {
            None => {
                return Ok(from_backend(
                    self.shared.backend.watch(prefix, after).await?,
                ));
            }
            Some(oldest) if after < oldest => {
                if self.shared.options.old_watches_to_backend {
                    return Ok(from_backend(
                        self.shared.backend.watch(prefix, after).await?,
                    ));
                }
                return Err(StorageError::Expired {
                    requested: after,
                    oldest,
                });
            }
            Some(_) => {}
        }
        let watcher = Watcher::new(
            resource.clone(),
            prefix.to_string(),
            after,
            self.shared.revision.subscribe(),
            self.shared.options.watcher_batch,
            progress_every,
        );
        Ok(watcher.into_stream())
    }

    /// The first page of a list at the cache's latest state, or `None` if the backend must
    /// answer.
    async fn latest_page(
        &self,
        resource: &Resource,
        prefix: &str,
        limit: Option<usize>,
        freshness: ReadFreshness,
    ) -> Result<Option<ListPage>, StorageError> {
        if !self.shared.fresh_enough(freshness).await? {
            return Ok(None);
        }
        // Read before locking: every change up to it is in the state we are about to read.
        let applied_everywhere = self.revision();
        let state = resource.read();
        if !state.loaded {
            return Ok(None);
        }
        let at = state.revision.max(applied_everywhere);
        Ok(Some(read_page(
            &state,
            &PageRequest {
                prefix,
                start: prefix,
                limit,
                at,
            },
        )))
    }

    /// A page as of exactly `at`, or `None` if the cache's history does not reach back there.
    async fn page_at(
        &self,
        resource: &Resource,
        prefix: &str,
        start: &str,
        limit: Option<usize>,
        at: Revision,
    ) -> Result<Option<ListPage>, StorageError> {
        if at > self.revision() {
            self.shared.reachable(at).await?;
            if !self
                .shared
                .catch_up(at, self.shared.options.freshness_timeout)
                .await
            {
                return Ok(None);
            }
        }
        let state = resource.read();
        if !state.loaded || at < state.history.oldest() {
            return Ok(None);
        }
        Ok(Some(read_page(
            &state,
            &PageRequest {
                prefix,
                start,
                limit,
                at,
            },
        )))
    }
}

#[async_trait]
impl Storage for WatchCache {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.shared.backend.create(key, value).await
    }

    async fn get(&self, key: &str) -> Result<KeyValue, StorageError> {
        self.get_with(key, ReadFreshness::Consistent).await
    }

    async fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StorageError> {
        self.list_with(prefix, options, ReadFreshness::Consistent)
            .await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StorageError> {
        self.shared.backend.update(key, value, expected).await
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        self.shared.backend.delete(key, expected).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
        let stream = self.watch_with_progress(prefix, after, None).await?;
        Ok(stream
            .filter_map(|item| async move {
                match item {
                    Ok(CacheWatchItem::Event(event)) => Some(Ok(event)),
                    Ok(CacheWatchItem::Progress(_)) => None,
                    Err(err) => Some(Err(err)),
                }
            })
            .boxed())
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.shared.backend.current_revision().await
    }

    /// Writes go to the backend, so its write health is the cache's.
    async fn check_writable(&self) -> Result<(), StorageError> {
        self.shared.backend.check_writable().await
    }
}
