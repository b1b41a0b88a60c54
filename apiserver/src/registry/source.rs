//! Where the registry reads from: the storage backend itself, or the watch cache in front of
//! it. Writes always go to the backend (the cache forwards them); what the cache adds is
//! reads of the freshness a request asks for (`resourceVersion=0` answered from memory, N
//! answered once the cache has reached N) and watches that report their progress, which
//! become BOOKMARK events. Writes may also go elsewhere than reads
//! ([`Source::writing_to`]): the scheduler's go through a store fenced by its leadership.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prepull_storage::cache::{CacheWatchItem, CacheWatchStream, ReadFreshness, WatchCache};
use prepull_storage::{
    KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream,
};
use tokio::time::Instant;

use super::read_revision::ReadRevision;

/// The registry's view of the storage: where reads come from and where writes go.
#[derive(Clone)]
pub(crate) struct Source {
    reads: Reads,
    /// Where writes go instead of the read side's storage.
    writes: Option<Arc<dyn Storage>>,
}

/// Where reads and watches come from.
#[derive(Clone)]
enum Reads {
    /// Reads and watches go to the backend: every read is consistent, and a watch's progress
    /// is the revision of the last change it delivered.
    Backend(Arc<dyn Storage>),
    /// Reads and watches go to the watch cache, with per-request freshness and progress.
    Cache(Arc<WatchCache>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field(
                "reads",
                &match self.reads {
                    Reads::Backend(_) => "backend",
                    Reads::Cache(_) => "cache",
                },
            )
            .field("separate_writes", &self.writes.is_some())
            .finish()
    }
}

impl Source {
    /// Reads, watches and writes on the backend itself.
    pub(crate) fn backend(storage: Arc<dyn Storage>) -> Source {
        Source {
            reads: Reads::Backend(storage),
            writes: None,
        }
    }

    /// Reads and watches from the watch cache; writes through it to its backend.
    pub(crate) fn cache(cache: Arc<WatchCache>) -> Source {
        Source {
            reads: Reads::Cache(cache),
            writes: None,
        }
    }

    /// The same reads, with every write going to `writes` (which must be the same data: the
    /// backend itself, or a fenced view of it).
    pub(crate) fn writing_to(&self, writes: Arc<dyn Storage>) -> Source {
        Source {
            reads: self.reads.clone(),
            writes: Some(writes),
        }
    }

    /// The storage to write to (and to read from when consistency is all that matters).
    pub(crate) fn storage(&self) -> &dyn Storage {
        match &self.writes {
            Some(writes) => writes.as_ref(),
            None => self.read_storage(),
        }
    }

    /// The read side as a [`Storage`].
    fn read_storage(&self) -> &dyn Storage {
        match &self.reads {
            Reads::Backend(storage) => storage.as_ref(),
            Reads::Cache(cache) => cache.as_ref(),
        }
    }

    /// One key, as fresh as `read` asks. A revision the store has not reached is
    /// [`StorageError::RevisionTooLarge`].
    pub(crate) async fn get(
        &self,
        key: &str,
        read: ReadRevision,
    ) -> Result<KeyValue, StorageError> {
        match &self.reads {
            Reads::Backend(storage) => {
                self.reachable(read).await?;
                storage.get(key).await
            }
            Reads::Cache(cache) => cache.get_with(key, freshness(read)).await,
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
        match &self.reads {
            Reads::Backend(storage) => {
                if options.continue_token.is_none() && options.revision.is_none() {
                    self.reachable(read).await?;
                }
                storage.list(prefix, options).await
            }
            Reads::Cache(cache) => cache.list_with(prefix, options, freshness(read)).await,
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
        match &self.reads {
            Reads::Backend(storage) => {
                let changes = storage.watch(prefix, after).await?;
                Ok(with_progress(changes, after, progress_every))
            }
            Reads::Cache(cache) => {
                cache
                    .watch_with_progress(prefix, after, progress_every)
                    .await
            }
        }
    }

    /// Fails unless the backend has reached the revision `read` names.
    async fn reachable(&self, read: ReadRevision) -> Result<(), StorageError> {
        if let ReadRevision::NotOlderThan(requested) | ReadRevision::Exact(requested) = read {
            let current = self.read_storage().current_revision().await?;
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
