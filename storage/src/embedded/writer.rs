//! The single writer thread: every write goes through it, in arrival order.
//!
//! Group commit: the thread takes one request, then whatever else is already queued (up to
//! `max_batch`), applies them in order in ONE redb write transaction and commits it with an
//! fsync. Each write still gets its own revision and its own verdict (a conflict in the middle
//! of a batch fails that request only). Nobody hears back before the commit is durable; if the
//! commit fails, every request in the batch fails (their verdicts depended on each other), and
//! nothing of the batch is visible. After a commit the new revision is published to watchers.
//!
//! # Recovery
//! A commit that fails on the disk poisons redb's handle (every later call, reads included,
//! answers `PreviousIo`). The writer then reopens the file at once, so reads and watches go on
//! from the last durable commit, re-reads the revision from it (a commit reported as failed may
//! still have reached the disk), and publishes [`WriteHealth::Failing`]. Writes then fail fast
//! until the next attempt is due (a backoff and, after a full disk, free space there: see
//! `write_health.rs`); the next write or probe then tries for real, and its success makes the
//! store healthy again. No restart is needed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, Table};
use tokio::sync::{mpsc, oneshot, watch};

use super::compaction;
use super::database_slot::DatabaseSlot;
use super::db_error::db_error;
use super::free_space::available_bytes;
use super::reads;
use super::tables::{Bookmarks, CHANGES, CURRENT_REVISION, KEY_VERSIONS, META, PROBES};
use super::write_health::{DiskFailure, WriteHealth};
use super::write_op::{WriteOp, apply};
use crate::{KeyValue, Revision, StorageError};

/// What the writer is asked to do, and where to send the outcome.
#[derive(Debug)]
pub(super) enum WriteRequest {
    /// One write with the preconditions of [`crate::Storage`].
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<KeyValue, StorageError>>,
    },
    /// Discards history before `to` (see `EmbeddedStore::compact`).
    Compact {
        to: Revision,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Succeeds when the batch it is in commits; commits a counter when nothing else in the
    /// batch writes. How a readiness check learns that writes work again.
    Probe {
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
}

/// One request's verdict inside a batch that committed.
enum Verdict {
    Write(Result<KeyValue, StorageError>),
    Done(Result<(), StorageError>),
}

impl WriteRequest {
    fn answer(self, verdict: Verdict) {
        // The caller may have given up waiting; the outcome stands regardless.
        match (self, verdict) {
            (WriteRequest::Write { reply, .. }, Verdict::Write(outcome)) => {
                let _ = reply.send(outcome);
            }
            (
                WriteRequest::Compact { reply, .. } | WriteRequest::Probe { reply },
                Verdict::Done(outcome),
            ) => {
                let _ = reply.send(outcome);
            }
            _ => unreachable!("every request gets the verdict of its own kind"),
        }
    }

    fn fail(self, err: &StorageError) {
        match self {
            WriteRequest::Write { reply, .. } => {
                let _ = reply.send(Err(batch_failure(err)));
            }
            WriteRequest::Compact { reply, .. } | WriteRequest::Probe { reply } => {
                let _ = reply.send(Err(batch_failure(err)));
            }
        }
    }
}

/// The state of the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    pub db: Arc<DatabaseSlot>,
    pub requests: mpsc::Receiver<WriteRequest>,
    /// The last committed revision, for watchers and `current_revision`.
    pub published: watch::Sender<Revision>,
    /// Whether writes work, for readiness checks.
    pub health: watch::Sender<WriteHealth>,
    /// The last revision handed out (committed, or in the open batch).
    pub revision: Revision,
    /// How many revisions of history to keep; 0 keeps all.
    pub history_revisions: u64,
    pub max_batch: usize,
    /// The longest wait between two attempts while writes fail on the disk.
    pub max_retry_backoff: Duration,
    /// After a full disk, the space that must be available before writes are tried again.
    pub resume_free_bytes: u64,
}

impl Writer {
    /// Serves requests until every sender is gone (the store was dropped).
    pub(super) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        // Waits for one request, then takes whatever else is queued, up to `max_batch`.
        while self.requests.blocking_recv_many(&mut batch, self.max_batch) > 0 {
            match self.attempt(&batch) {
                Ok(verdicts) => {
                    for (request, verdict) in batch.drain(..).zip(verdicts) {
                        request.answer(verdict);
                    }
                }
                Err(err) => {
                    for request in batch.drain(..) {
                        request.fail(&err);
                    }
                }
            }
        }
    }

    /// Commits the batch, unless writes are failing and the next attempt is not due yet.
    fn attempt(&mut self, batch: &[WriteRequest]) -> Result<Vec<Verdict>, StorageError> {
        let dir = self.db.dir();
        if let Some(failure) = self.health.borrow().blocking(
            Instant::now(),
            || available_bytes(dir),
            self.resume_free_bytes,
        ) {
            return Err(failure.to_error(dir));
        }
        if self.db.is_closed() {
            // The reopen after the last failure failed too: without a handle there is nothing
            // to write with.
            self.reopen_closed()?;
        }
        let before = self.revision;
        let db = self.db.clone();
        match db.with(|db| self.write(db, batch)) {
            Ok(verdicts) => {
                if self.revision != before {
                    self.published.send_replace(self.revision);
                }
                self.health.send_if_modified(|health| {
                    let was_failing = *health != WriteHealth::Healthy;
                    if was_failing {
                        tracing::info!(dir = %self.db.dir().display(), "embedded store: writes work again");
                        *health = WriteHealth::Healthy;
                    }
                    was_failing
                });
                Ok(verdicts)
            }
            Err(err) => {
                self.revision = before;
                Err(self.recover(err))
            }
        }
    }

    /// After a failed batch: when the failure poisoned the handle (an I/O error), reopens the
    /// file and enters [`WriteHealth::Failing`]. Returns the error the batch gets.
    fn recover(&mut self, err: StorageError) -> StorageError {
        if !self.db.is_poisoned() {
            tracing::error!(%err, "embedded store: a write batch failed to commit");
            return err;
        }
        let failure = DiskFailure::of(&err);
        let max_backoff = self.max_retry_backoff;
        self.health.send_modify(|health| {
            *health = health.after_failure(failure.clone(), Instant::now(), max_backoff);
        });
        let dir = self.db.dir().to_path_buf();
        let located = failure.to_error(&dir);
        tracing::warn!(err = %located, "embedded store: a commit failed on the disk; reopening the database");
        match self.db.reopen() {
            Ok(()) if self.catch_up_with_the_file() => {
                // The error came after the commit reached the disk (a failed final fsync): the
                // writes stand, so "nothing was written" would be wrong.
                return StorageError::Unavailable {
                    reason: format!(
                        "the commit reported an I/O error but reached the disk ({err}); \
                         re-read before retrying"
                    ),
                };
            }
            Ok(()) => {}
            Err(reopen) => {
                tracing::warn!(err = %reopen, "embedded store: reopening failed; reads wait for the next attempt");
            }
        }
        located
    }

    /// Opens the closed handle again; a failure counts as a failed attempt.
    fn reopen_closed(&mut self) -> Result<(), StorageError> {
        match self.db.reopen() {
            Ok(()) => {
                self.catch_up_with_the_file();
                Ok(())
            }
            Err(err) => {
                let failure = DiskFailure::of(&err);
                let max_backoff = self.max_retry_backoff;
                self.health.send_modify(|health| {
                    *health = health.after_failure(failure.clone(), Instant::now(), max_backoff);
                });
                Err(failure.to_error(self.db.dir()))
            }
        }
    }

    /// Takes the revision from the reopened file: a commit whose fsync failed may still have
    /// reached the disk, and its revisions must not be handed out twice. True when the file
    /// was ahead of the writer.
    fn catch_up_with_the_file(&mut self) -> bool {
        match self.db.with(reads::bookmarks) {
            Ok(bookmarks) if bookmarks.current != self.revision => {
                tracing::warn!(
                    file = bookmarks.current,
                    writer = self.revision,
                    "embedded store: the reopened file is at another revision than the writer"
                );
                self.revision = bookmarks.current;
                let ahead = bookmarks.current > *self.published.borrow();
                if ahead {
                    self.published.send_replace(bookmarks.current);
                }
                ahead
            }
            Ok(_) => false,
            Err(err) => {
                tracing::warn!(%err, "embedded store: cannot read the reopened file");
                false
            }
        }
    }

    /// Applies the batch in one transaction; the outer error aborts all of it.
    fn write(
        &mut self,
        db: &Database,
        batch: &[WriteRequest],
    ) -> Result<Vec<Verdict>, StorageError> {
        let before = self.revision;
        let txn = db.begin_write().map_err(db_error)?;
        let (verdicts, dirty) = {
            let mut changes = txn.open_table(CHANGES).map_err(db_error)?;
            let mut key_versions = txn.open_table(KEY_VERSIONS).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            let mut verdicts = Vec::with_capacity(batch.len());
            let mut compacted = false;
            let mut probed = false;
            for request in batch {
                verdicts.push(match request {
                    WriteRequest::Write { op, .. } => Verdict::Write(apply(
                        &mut changes,
                        &mut key_versions,
                        &mut self.revision,
                        op,
                    )?),
                    WriteRequest::Compact { to, .. } => {
                        let outcome =
                            self.compact_to(*to, &mut changes, &mut key_versions, &mut meta)?;
                        compacted |= matches!(outcome, Ok(true));
                        Verdict::Done(outcome.map(|_| ()))
                    }
                    WriteRequest::Probe { .. } => {
                        probed = true;
                        Verdict::Done(Ok(()))
                    }
                });
            }
            if self.revision != before {
                meta.insert(CURRENT_REVISION, self.revision)
                    .map_err(db_error)?;
                self.trim_history(&mut changes, &mut key_versions, &mut meta)?;
            } else if probed && !compacted {
                // A probe must reach the disk to prove anything.
                let probes = meta.get(PROBES).map_err(db_error)?.map_or(0, |v| v.value());
                meta.insert(PROBES, probes.wrapping_add(1))
                    .map_err(db_error)?;
            }
            (verdicts, self.revision != before || compacted || probed)
        };
        if dirty {
            txn.commit().map_err(db_error)?;
        } else {
            // Only refused writes: nothing to make durable.
            txn.abort().map_err(db_error)?;
        }
        Ok(verdicts)
    }

    /// Compacts to `to` inside the batch. The inner result is the request's verdict (`true`
    /// when something changed); the outer one a database failure that aborts the batch.
    fn compact_to(
        &self,
        to: Revision,
        changes: &mut Table<'_, u64, &'static [u8]>,
        key_versions: &mut Table<'_, (&'static str, u64), ()>,
        meta: &mut Table<'_, &'static str, u64>,
    ) -> Result<Result<bool, StorageError>, StorageError> {
        if to > self.revision {
            return Ok(Err(StorageError::RevisionTooLarge {
                requested: to,
                current: self.revision,
            }));
        }
        let compacted = Bookmarks::read(meta)?.compacted;
        if to <= compacted {
            return Ok(Ok(false));
        }
        compaction::compact(changes, key_versions, meta, compacted, to)?;
        Ok(Ok(true))
    }

    /// Keeps the history window bounded: compacts to `revision - history_revisions`.
    fn trim_history(
        &self,
        changes: &mut Table<'_, u64, &'static [u8]>,
        key_versions: &mut Table<'_, (&'static str, u64), ()>,
        meta: &mut Table<'_, &'static str, u64>,
    ) -> Result<(), StorageError> {
        if self.history_revisions == 0 {
            return Ok(());
        }
        let floor = self.revision.saturating_sub(self.history_revisions);
        let compacted = Bookmarks::read(meta)?.compacted;
        if floor > compacted {
            compaction::compact(changes, key_versions, meta, compacted, floor)?;
        }
        Ok(())
    }
}

/// The error each request of a failed batch gets (the error itself is not `Clone`).
fn batch_failure(err: &StorageError) -> StorageError {
    match err {
        StorageError::Unavailable { reason } => StorageError::Unavailable {
            reason: reason.clone(),
        },
        StorageError::InsufficientStorage { path, reason } => StorageError::InsufficientStorage {
            path: path.clone(),
            reason: reason.clone(),
        },
        StorageError::Corrupt { key, reason } => StorageError::Corrupt {
            key: key.clone(),
            reason: reason.clone(),
        },
        other => StorageError::Internal(other.to_string()),
    }
}
