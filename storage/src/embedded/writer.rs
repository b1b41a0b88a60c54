//! The single writer thread: every write goes through it, in arrival order.
//!
//! Group commit: the thread takes one request, then whatever else is already queued (up to
//! `max_batch`), applies them in order in ONE redb write transaction and commits it with an
//! fsync. Each write still gets its own revision and its own verdict (a conflict in the middle
//! of a batch fails that request only). Nobody hears back before the commit is durable; if the
//! commit fails, every request in the batch fails (their verdicts depended on each other), and
//! nothing of the batch is visible. After a commit the new revision is published to watchers.

use std::sync::Arc;

use bytes::Bytes;
use redb::{Database, Table};
use tokio::sync::{mpsc, oneshot, watch};

use super::change::{Change, ChangeKind};
use super::compaction;
use super::db_error::db_error;
use super::tables::{Bookmarks, CHANGES, CURRENT_REVISION, KEY_VERSIONS, META};
use super::versions::{Version, version_at};
use crate::{KeyValue, Revision, StorageError, envelope};

/// A value to write: what the caller gave, and the bytes that go to disk.
#[derive(Clone, Debug)]
pub(super) struct NewValue {
    pub plain: Bytes,
    pub stored: Bytes,
}

impl NewValue {
    pub(super) fn sealed(plain: Bytes) -> Self {
        let stored = envelope::seal(&plain);
        NewValue { plain, stored }
    }

    /// Stored as given, without an envelope: only for simulating damage in tests.
    pub(super) fn unsealed(raw: Bytes) -> Self {
        NewValue {
            plain: raw.clone(),
            stored: raw,
        }
    }
}

/// One write, with the preconditions of [`crate::Storage`].
#[derive(Debug)]
pub(super) enum WriteOp {
    Create {
        key: String,
        value: NewValue,
    },
    Update {
        key: String,
        value: NewValue,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    /// Create or overwrite, unconditionally.
    Put {
        key: String,
        value: NewValue,
    },
}

/// A write and where to send its outcome.
#[derive(Debug)]
pub(super) struct WriteRequest {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<KeyValue, StorageError>>,
}

/// The state of the writer thread.
#[derive(Debug)]
pub(super) struct Writer {
    pub db: Arc<Database>,
    pub requests: mpsc::Receiver<WriteRequest>,
    /// The last committed revision, for watchers and `current_revision`.
    pub published: watch::Sender<Revision>,
    /// The last revision handed out (committed, or in the open batch).
    pub revision: Revision,
    /// How many revisions of history to keep; 0 keeps all.
    pub history_revisions: u64,
    pub max_batch: usize,
}

impl Writer {
    /// Serves requests until every sender is gone (the store was dropped).
    pub(super) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        // Waits for one request, then takes whatever else is queued, up to `max_batch`.
        while self.requests.blocking_recv_many(&mut batch, self.max_batch) > 0 {
            self.commit_batch(&mut batch);
        }
    }

    fn commit_batch(&mut self, batch: &mut Vec<WriteRequest>) {
        let before = self.revision;
        match self.write(batch) {
            Ok(outcomes) => {
                if self.revision != before {
                    self.published.send_replace(self.revision);
                }
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    // The caller may have given up waiting; the write stands regardless.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(err) => {
                self.revision = before;
                tracing::error!(%err, "embedded store: a write batch failed to commit");
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(batch_failure(&err)));
                }
            }
        }
    }

    /// Applies the batch in one transaction; the outer error aborts all of it.
    fn write(
        &mut self,
        batch: &[WriteRequest],
    ) -> Result<Vec<Result<KeyValue, StorageError>>, StorageError> {
        let before = self.revision;
        let txn = self.db.begin_write().map_err(db_error)?;
        let outcomes = {
            let mut changes = txn.open_table(CHANGES).map_err(db_error)?;
            let mut key_versions = txn.open_table(KEY_VERSIONS).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for request in batch {
                outcomes.push(apply(
                    &mut changes,
                    &mut key_versions,
                    &mut self.revision,
                    &request.op,
                )?);
            }
            if self.revision != before {
                meta.insert(CURRENT_REVISION, self.revision)
                    .map_err(db_error)?;
                self.trim_history(&mut changes, &mut key_versions, &mut meta)?;
            }
            outcomes
        };
        if self.revision == before {
            // Only refused writes: nothing to make durable.
            txn.abort().map_err(db_error)?;
        } else {
            txn.commit().map_err(db_error)?;
        }
        Ok(outcomes)
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

/// Applies one write. The inner result is the request's verdict; the outer one a database
/// failure that aborts the batch.
fn apply(
    changes: &mut Table<'_, u64, &'static [u8]>,
    key_versions: &mut Table<'_, (&'static str, u64), ()>,
    revision: &mut Revision,
    op: &WriteOp,
) -> Result<Result<KeyValue, StorageError>, StorageError> {
    let key = match op {
        WriteOp::Create { key, .. }
        | WriteOp::Update { key, .. }
        | WriteOp::Delete { key, .. }
        | WriteOp::Put { key, .. } => key.as_str(),
    };
    let current = version_at(changes, key_versions, key, Revision::MAX)?;
    let not_found = || StorageError::NotFound {
        key: key.to_string(),
    };
    let conflict = |expected: Revision, current: &Version| StorageError::Conflict {
        key: key.to_string(),
        expected,
        // A winner that cannot be decoded is not handed out; the caller re-reads and sees
        // the corruption itself.
        current: current.open().ok().map(Box::new),
    };
    let at = *revision + 1;
    let written = match op {
        WriteOp::Create { value, .. } => {
            if current.is_some() {
                return Ok(Err(StorageError::AlreadyExists {
                    key: key.to_string(),
                }));
            }
            put(changes, key_versions, at, key, value, None)?
        }
        WriteOp::Update {
            value, expected, ..
        } => {
            let Some(current) = current else {
                return Ok(Err(not_found()));
            };
            if current.mod_revision != *expected {
                return Ok(Err(conflict(*expected, &current)));
            }
            put(changes, key_versions, at, key, value, Some(&current))?
        }
        WriteOp::Put { value, .. } => put(changes, key_versions, at, key, value, current.as_ref())?,
        WriteOp::Delete { expected, .. } => {
            let Some(current) = current else {
                return Ok(Err(not_found()));
            };
            if let Some(expected) = expected
                && current.mod_revision != *expected
            {
                return Ok(Err(conflict(*expected, &current)));
            }
            let change = Change {
                kind: ChangeKind::Delete,
                key: key.to_string(),
                create_revision: current.create_revision,
                prev_revision: Some(current.mod_revision),
                sealed_value: Bytes::new(),
            };
            record(changes, key_versions, at, &change)?;
            KeyValue {
                key: key.to_string(),
                // Deleting a corrupt key must work (it is how an operator gets rid of it);
                // its last value is then reported empty.
                value: current.open().map(|kv| kv.value).unwrap_or_default(),
                create_revision: current.create_revision,
                mod_revision: at,
            }
        }
    };
    *revision = at;
    Ok(Ok(written))
}

fn put(
    changes: &mut Table<'_, u64, &'static [u8]>,
    key_versions: &mut Table<'_, (&'static str, u64), ()>,
    at: Revision,
    key: &str,
    value: &NewValue,
    previous: Option<&Version>,
) -> Result<KeyValue, StorageError> {
    let change = Change {
        kind: ChangeKind::Put,
        key: key.to_string(),
        create_revision: previous.map_or(at, |p| p.create_revision),
        prev_revision: previous.map(|p| p.mod_revision),
        sealed_value: value.stored.clone(),
    };
    record(changes, key_versions, at, &change)?;
    Ok(KeyValue {
        key: key.to_string(),
        value: value.plain.clone(),
        create_revision: change.create_revision,
        mod_revision: at,
    })
}

fn record(
    changes: &mut Table<'_, u64, &'static [u8]>,
    key_versions: &mut Table<'_, (&'static str, u64), ()>,
    at: Revision,
    change: &Change,
) -> Result<(), StorageError> {
    changes
        .insert(at, change.encode().as_slice())
        .map_err(db_error)?;
    key_versions
        .insert((change.key.as_str(), at), ())
        .map_err(db_error)?;
    Ok(())
}

/// The error each request of a failed batch gets (the error itself is not `Clone`).
fn batch_failure(err: &StorageError) -> StorageError {
    match err {
        StorageError::Unavailable { reason } => StorageError::Unavailable {
            reason: reason.clone(),
        },
        StorageError::Corrupt { key, reason } => StorageError::Corrupt {
            key: key.clone(),
            reason: reason.clone(),
        },
        other => StorageError::Internal(other.to_string()),
    }
}
