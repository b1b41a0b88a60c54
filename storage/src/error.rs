//! What storage calls can fail with. These errors know nothing of HTTP; the API server
//! translates them to Kubernetes statuses in one place.

use std::path::PathBuf;

use crate::{KeyValue, Revision};

/// A storage failure, with what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key does not exist. Callers report NotFound (404).
    #[error("key {key:?} not found")]
    NotFound { key: String },

    /// A create found the key already there. Callers report AlreadyExists (409).
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },

    /// A compare-and-swap lost: the key changed since `expected`. Callers re-read (or use
    /// `current`, when present) and retry, or report Conflict (409).
    #[error("key {key:?} was modified: expected revision {expected}, found {}", current.as_ref().map(|kv| kv.mod_revision.to_string()).unwrap_or_else(|| "none".into()))]
    Conflict {
        key: String,
        expected: Revision,
        /// The value that won, when the backend returned it with the failed swap.
        current: Option<Box<KeyValue>>,
    },

    /// The requested revision is no longer retained (compacted, or past the history window).
    /// Callers re-list from the latest revision; the API reports Expired/Gone (410).
    #[error("revision {requested} has been compacted (oldest retained: {oldest})")]
    Expired {
        requested: Revision,
        oldest: Revision,
    },

    /// The requested revision is newer than anything the store has seen yet. Callers may wait
    /// and retry; the API reports it as a timeout (504 "Too large resource version").
    #[error("revision {requested} is newer than the store's current revision {current}")]
    RevisionTooLarge {
        requested: Revision,
        current: Revision,
    },

    /// The value exceeds [`crate::MAX_VALUE_BYTES`]; nothing was written. Callers report
    /// RequestEntityTooLarge (413).
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit} bytes")]
    ValueTooLarge {
        key: String,
        size: usize,
        limit: usize,
    },

    /// A continue token that this store did not issue or cannot parse. Callers report
    /// BadRequest (400).
    #[error("invalid continue token: {reason}")]
    InvalidContinue { reason: String },

    /// Stored bytes could not be read back. Callers report an internal error (500); the data
    /// needs an operator's attention.
    #[error("stored data for {key:?} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },

    /// The backend did not answer within its deadline or refused the connection. Callers may
    /// retry later; the API reports ServiceUnavailable (503) or a timeout (504).
    #[error("storage unavailable: {reason}")]
    Unavailable { reason: String },

    /// The filesystem holding the store's data directory is full (or over quota); the write
    /// was not applied. Reads and watches keep working. Callers report InsufficientStorage
    /// (507) naming `path`; writes succeed again, without a restart, once space is freed there.
    #[error("no space left for the data directory {}: {reason}", path.display())]
    InsufficientStorage { path: PathBuf, reason: String },

    /// etcd refused the write because its database reached its space quota
    /// (`--quota-backend-bytes`; etcd then raises its NOSPACE alarm and refuses every write
    /// until an operator compacts, defragments and disarms it). Nothing was written; reads
    /// and watches keep working. Callers report InsufficientStorage (507).
    #[error("etcd's database is over its space quota: {reason}")]
    QuotaExceeded { reason: String },

    /// A write through a store fenced by a leadership (see `EtcdStore::fenced_by`) found the
    /// leadership gone: its lease expired or the leader key is held by another. Nothing was
    /// written. Not transient for this writer: it must stop (another replica leads now).
    #[error("write refused: {reason}")]
    NotLeader { reason: String },

    /// Any other backend failure (a bug or an unexpected backend answer). Callers report an
    /// internal error (500) without echoing the reason to clients.
    #[error("storage internal error: {0}")]
    Internal(String),
}

impl StorageError {
    /// [`StorageError::ValueTooLarge`] when `value` exceeds [`crate::MAX_VALUE_BYTES`]: every
    /// backend checks this before writing, so the limit does not depend on the backend.
    pub fn check_value_size(key: &str, value: &[u8]) -> Result<(), StorageError> {
        if value.len() > crate::MAX_VALUE_BYTES {
            return Err(StorageError::ValueTooLarge {
                key: key.to_string(),
                size: value.len(),
                limit: crate::MAX_VALUE_BYTES,
            });
        }
        Ok(())
    }

    /// True for errors where retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable { .. }
                | StorageError::RevisionTooLarge { .. }
                | StorageError::InsufficientStorage { .. }
                | StorageError::QuotaExceeded { .. }
        )
    }
}
