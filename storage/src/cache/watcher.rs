//! A client watch served by the cache: a cursor walking the history ring of one resource.
//!
//! The watcher keeps only its position (the revision up to which it has delivered every change
//! under its prefix) and at most [`CacheOptions::watcher_batch`](super::CacheOptions::watcher_batch)
//! events taken but not yet polled. Replay of old changes and live changes are the same loop:
//! take the changes after the cursor from the ring; when there are none, wait for the resource
//! to change. A watcher that polls so slowly that the ring has moved past its cursor ends with
//! [`StorageError::Expired`], like a watch from a compacted revision: the client re-lists.
//! When the backend reports a value under the watched prefix it cannot read back, the watcher
//! delivers every change before it and then ends with that [`StorageError::Corrupt`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::resource::Resource;
use crate::{Revision, StorageError, WatchEvent};

/// One item of a watch served by [`super::WatchCache::watch_with_progress`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheWatchItem {
    /// A change, as [`crate::Storage::watch`] delivers it.
    Event(WatchEvent),
    /// Every change under the watched prefix up to this revision has been delivered, and no
    /// later item will carry a revision at or below it. Sent when the watch has been quiet for
    /// the requested progress interval; the API server turns it into a BOOKMARK event.
    Progress(Revision),
}

/// A watch with progress reports. Ends like [`crate::WatchStream`]: with
/// [`StorageError::Expired`] when the watcher fell behind the history the cache holds, and with
/// [`StorageError::Unavailable`] when the cache is dropped.
pub type CacheWatchStream = BoxStream<'static, Result<CacheWatchItem, StorageError>>;

/// The state of one client watch.
#[derive(Debug)]
pub(crate) struct Watcher {
    resource: Arc<Resource>,
    /// Only keys under this prefix (the resource's, or a narrower one) are delivered.
    prefix: String,
    /// Every change under `prefix` with a revision up to this one has been taken.
    cursor: Revision,
    /// Wakes the watcher when its resource changes.
    changed: watch::Receiver<Revision>,
    /// The cache's revision: every change up to it has been applied to its resource.
    cache_revision: watch::Receiver<Revision>,
    batch: usize,
    taken: VecDeque<WatchEvent>,
    progress_every: Option<Duration>,
    last_sent: Instant,
    finished: bool,
}

impl Watcher {
    pub(crate) fn new(
        resource: Arc<Resource>,
        prefix: String,
        after: Revision,
        cache_revision: watch::Receiver<Revision>,
        batch: usize,
        progress_every: Option<Duration>,
    ) -> Watcher {
        Watcher {
            changed: resource.subscribe(),
            resource,
            prefix,
            cursor: after,
            cache_revision,
            batch,
            taken: VecDeque::new(),
            progress_every,
            last_sent: Instant::now(),
            finished: false,
        }
    }

    pub(crate) fn into_stream(self) -> CacheWatchStream {
        futures::stream::unfold(self, |mut watcher| async move {
            let item = watcher.next_item().await?;
            Some((item, watcher))
        })
        .boxed()
    }

    async fn next_item(&mut self) -> Option<Result<CacheWatchItem, StorageError>> {
        if self.finished {
            return None;
        }
        loop {
            if let Some(event) = self.taken.pop_front() {
                self.last_sent = Instant::now();
                return Some(Ok(CacheWatchItem::Event(event)));
            }
            // Mark the current change as seen before reading, so a change applied after the
            // read wakes the wait below.
            self.changed.borrow_and_update();
            if let Err(err) = self.take_changes() {
                self.finished = true;
                return Some(Err(err));
            }
            if !self.taken.is_empty() {
                continue;
            }
            let progress_due = self.progress_every.map(|every| self.last_sent + every);
            let progress_timer = async {
                match progress_due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // The sender lives in the resource this watcher holds: it cannot close.
                _ = self.changed.changed() => {}
                () = progress_timer => {
                    if let Err(err) = self.take_changes() {
                        self.finished = true;
                        return Some(Err(err));
                    }
                    if self.taken.is_empty() {
                        self.last_sent = Instant::now();
                        return Some(Ok(CacheWatchItem::Progress(self.cursor)));
                    }
                }
            }
        }
    }

    /// Moves the changes after the cursor from the ring into `taken` (at most one batch) and
    /// advances the cursor past everything read.
    fn take_changes(&mut self) -> Result<(), StorageError> {
        // Read before locking: every change up to this revision is already in its resource.
        let applied_everywhere = *self.cache_revision.borrow();
        let state = self.resource.read();
        if state.closed {
            return Err(StorageError::Unavailable {
                reason: "the watch cache was stopped".into(),
            });
        }
        let oldest = state.history.oldest();
        if self.cursor < oldest {
            return Err(StorageError::Expired {
                requested: self.cursor,
                oldest,
            });
        }
        let mut last_read = None;
        for change in state.history.since(self.cursor) {
            if self.taken.len() == self.batch {
                break;
            }
            last_read = Some(change.revision());
            if change.key.starts_with(&self.prefix) {
                self.taken.push_back(change.to_watch_event());
            }
        }
        if self.taken.is_empty()
            && let Some(damage) = &state.damage
            && damage.key.starts_with(&self.prefix)
        {
            return Err(StorageError::Corrupt {
                key: damage.key.clone(),
                reason: damage.reason.clone(),
            });
        }
        let read_all = self.taken.len() < self.batch;
        self.cursor = if read_all {
            // Every change of this resource up to its revision is in the ring and was read;
            // every change anywhere up to `applied_everywhere` was applied before the lock.
            self.cursor.max(state.revision).max(applied_everywhere)
        } else {
            self.cursor.max(last_read.unwrap_or(self.cursor))
        };
        Ok(())
    }
}
