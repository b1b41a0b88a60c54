//! How fresh a read must be, and how the cache waits until it is fresh enough to answer one
//! from memory.

use std::time::Duration;

use super::shared::Shared;
use crate::{Revision, StorageError};

/// How fresh a read without an exact revision must be. Maps the API's `resourceVersion` on
/// get and list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFreshness {
    /// `resourceVersion` unset: at least as new as the backend when the read began. This is
    /// what [`crate::Storage::get`] and [`crate::Storage::list`] do.
    Consistent,
    /// `resourceVersion=N` (not older than N): served from memory once the cache has reached N.
    /// A revision the backend has not reached either is [`StorageError::RevisionTooLarge`].
    NotOlderThan(Revision),
    /// `resourceVersion=0`: whatever the cache holds, without asking the backend.
    Any,
}

impl Shared {
    /// Whether memory may answer a read of the given freshness now, after waiting if needed.
    pub(crate) async fn fresh_enough(
        &self,
        freshness: ReadFreshness,
    ) -> Result<bool, StorageError> {
        let wait = self.options.freshness_timeout;
        match freshness {
            ReadFreshness::Any => Ok(true),
            ReadFreshness::Consistent => {
                if !*self.ready.borrow() {
                    return Ok(false);
                }
                let target = self.backend.current_revision().await?;
                Ok(self.catch_up(target, wait).await)
            }
            ReadFreshness::NotOlderThan(revision) => {
                if *self.revision.borrow() >= revision {
                    return Ok(true);
                }
                self.reachable(revision).await?;
                Ok(self.catch_up(revision, wait).await)
            }
        }
    }

    /// Waits at most `timeout` for the cache to reach `revision`; gives up at once when the
    /// cache is or becomes not ready (its revision may then not move for a long time).
    pub(crate) async fn catch_up(&self, revision: Revision, timeout: Duration) -> bool {
        let mut current = self.revision.subscribe();
        let mut ready = self.ready.subscribe();
        let reached = async { current.wait_for(|r| *r >= revision).await.is_ok() };
        let stalled = async {
            // An error means the cache is gone: nothing to wait for either.
            let _ = ready.wait_for(|ready| !*ready).await;
        };
        tokio::select! {
            biased;
            reached = reached => reached,
            () = stalled => false,
            () = tokio::time::sleep(timeout) => false,
        }
    }

    /// Fails with [`StorageError::RevisionTooLarge`] if the backend has not reached `revision`.
    pub(crate) async fn reachable(&self, revision: Revision) -> Result<(), StorageError> {
        let current = self.backend.current_revision().await?;
        if revision > current {
            return Err(StorageError::RevisionTooLarge {
                requested: revision,
                current,
            });
        }
        Ok(())
    }
}
