//! Where the registry reads from: the storage backend itself, or the watch cache in front of
//! it. Writes always go to the backend (the cache forwards them); what the cache adds is
//! reads of the freshness a request asks for (`resourceVersion=0` answered from memory, N
//! answered once the cache has reached N) and watches that report their progress, which
//! become BOOKMARK events.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prepull_storage::cache::{CacheWatchItem, CacheWatchStream, ReadFreshness, WatchCache};
use prepull_storage::{
    KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream,
};
use tokio::time::Instant;

use super::read_revision::ReadRevision;

/// The registry's view of the storage.
#[derive(Clone)]
pub(crate) enum Source {
    /// Reads and watches go to the backend: every read is consistent, and a watch's progress
    /// is the revision of the last change it delivered.
    Backend(Arc<dyn Storage>),
    /// Reads and watches go to the watch cache, with per-request freshness and progress.
    Cache(Arc<WatchCache>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Backend(_) => "Source::Backend",
            Source::Cache(_) => "Source::Cache",
        })
    }
}

impl Source {
    /// The storage to write to (and to read from when consistency is all that matters).
    pub(crate) fn storage(&self) -> &dyn Storage {
        match self {
            Source::Backend(storage) => storage.as_ref(),
            Source::Cache(cache) => cache.as_ref(),
        }
    }

    /// One key, as fresh as `read` asks. A revision the store has not reached is
    /// [`StorageError::RevisionTooLarge`].
    pub(crate) async fn get(
        &self,
        key: &str,
        read: ReadRevision,
    ) -> Result<KeyValue, StorageError> {
        match self {
            Source::Backend(storage) => {
                self.reachable(read).await?;
                storage.get(key).await
            }
            Source::Cache(cache) => cache.get_with(key, freshness(read)).await,
        }
    }

    /// One page under `prefix`, as fresh as `read` asks (unless `options` names a revision or
    /// a continue token, which read at exactly their revision).
    pub(crate) async fn list(
        &self,
        prefix: &str,
        options: &ListOptions,
        read: ReadRevision,
    ) -> Result<ListPage, StorageError> {
        match self {
            Source::Backend(storage) => {
                if options.continue_token.is_none() && options.revision.is_none() {
                    self.reachable(read).await?;
                }
                storage.list(prefix, options).await
            }
            Source::Cache(cache) => cache.list_with(prefix, options, freshness(read)).await,
        }
    }

    /// Changes under `prefix` after revision `after`. With `progress_every`, progress reports
    /// come after quiet periods (from the cache) or every `progress_every` (from the backend,
    /// carrying the revision of the last change delivered).
    pub(crate) async fn watch(
        &self,
        prefix: &str,
        after: Revision,
        progress_every: Option<Duration>,
    ) -> Result<CacheWatchStream, StorageError> {
        match self {
            Source::Backend(storage) => {
                let changes = storage.watch(prefix, after).await?;
                Ok(with_progress(changes, after, progress_every))
            }
            Source::Cache(cache) => {
                cache
                    .watch_with_progress(prefix, after, progress_every)
                    .await
            }
        }
    }

    /// Fails unless the backend has reached the revision `read` names.
    async fn reachable(&self, read: ReadRevision) -> Result<(), StorageError> {
        if let ReadRevision::NotOlderThan(requested) | ReadRevision::Exact(requested) = read {
            let current = self.storage().current_revision().await?;
            if requested > current {
                return Err(StorageError::RevisionTooLarge { requested, current });
            }
        }
        Ok(())
    }
}

fn freshness(read: ReadRevision) -> ReadFreshness {
    match read {
        ReadRevision::Latest => ReadFreshness::Consistent,
        ReadRevision::Any => ReadFreshness::Any,
        ReadRevision::NotOlderThan(revision) | ReadRevision::Exact(revision) => {
            ReadFreshness::NotOlderThan(revision)
        }
    }
}

/// A backend watch with a progress report every `every` (if given): the revision of the last
/// change delivered, which is all a backend watch knows for sure.
fn with_progress(
    changes: WatchStream,
    start: Revision,
    every: Option<Duration>,
) -> CacheWatchStream {
    let Some(every) = every else {
        return changes
            .map(|change| change.map(CacheWatchItem::Event))
            .boxed();
    };
    struct State {
        changes: WatchStream,
        delivered: Revision,
        next_report: Instant,
        every: Duration,
    }
    let state = State {
        changes,
        delivered: start,
        next_report: Instant::now() + every,
        every,
    };
    futures::stream::unfold(state, |mut state| async move {
        match tokio::time::timeout_at(state.next_report, state.changes.next()).await {
            Err(_) => {
                state.next_report = Instant::now() + state.every;
                Some((Ok(CacheWatchItem::Progress(state.delivered)), state))
            }
            Ok(None) => None,
            Ok(Some(Ok(change))) => {
                state.delivered = change.revision();
                Some((Ok(CacheWatchItem::Event(change)), state))
            }
            Ok(Some(Err(err))) => Some((Err(err), state)),
        }
    })
    .boxed()
}
