//! A watch on the embedded store: a cursor over the persisted change log that sleeps until the
//! writer publishes a newer revision.
//!
//! Every event comes from the log, so a watcher cannot miss one however slow it is: live
//! watchers and watchers catching up from an old revision run the same loop. A watcher that
//! falls further behind than the retained history gets `Expired` (the change log no longer has
//! what it needs), never a silent gap. The notification carries only a revision, so a burst of
//! commits wakes a watcher once.

use std::collections::VecDeque;
use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::blocking::run_blocking;
use super::database_slot::DatabaseSlot;
use super::history::{self, HistoryBatch};
use crate::{Revision, StorageError, WatchEvent, WatchStream};

/// The state of one watch.
#[derive(Debug)]
pub(super) struct HistoryFollower {
    /// Weak so that an open watch does not keep the database file open after the store is
    /// dropped; the watch then ends with `Unavailable`. Through the slot, a watch reads from
    /// whatever handle the writer reopened after an I/O error.
    pub db: Weak<DatabaseSlot>,
    pub prefix: String,
    /// Every change up to here has been read (and those under `prefix` queued or delivered).
    pub position: Revision,
    pub committed: watch::Receiver<Revision>,
    pub read_batch: usize,
    pub timeout: Duration,
    pub pending: VecDeque<Result<WatchEvent, StorageError>>,
    pub finished: bool,
}

impl HistoryFollower {
    pub(super) fn into_stream(self) -> WatchStream {
        futures::stream::unfold(self, |mut follower| async move {
            let item = follower.next_item().await?;
            Some((item, follower))
        })
        .boxed()
    }

    async fn next_item(&mut self) -> Option<Result<WatchEvent, StorageError>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                // An error ends the stream, as the `WatchStream` contract says.
                self.finished = item.is_err();
                return Some(item);
            }
            // Marking the published revision as seen before reading means a commit landing
            // during the read still wakes the wait below.
            let committed = *self.committed.borrow_and_update();
            if self.position >= committed {
                if self.committed.changed().await.is_err() {
                    self.finished = true;
                    return Some(Err(store_closed()));
                }
                continue;
            }
            match self.read().await {
                Ok(batch) => {
                    self.position = batch.position;
                    self.pending = batch.events;
                }
                Err(err) => {
                    self.finished = true;
                    return Some(Err(err));
                }
            }
        }
    }

    async fn read(&self) -> Result<HistoryBatch, StorageError> {
        let db = self.db.clone();
        let prefix = self.prefix.clone();
        let position = self.position;
        let read_batch = self.read_batch;
        run_blocking(self.timeout, move || {
            let db = db.upgrade().ok_or_else(store_closed)?;
            db.with(|db| history::read_after(db, &prefix, position, read_batch))
        })
        .await
    }
}

fn store_closed() -> StorageError {
    StorageError::Unavailable {
        reason: "the embedded store was closed".to_string(),
    }
}
