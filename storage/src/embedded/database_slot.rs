//! The store's one handle on its redb file, which the writer replaces after an I/O error.
//!
//! Once a redb handle has seen an I/O error (a full disk during a commit), every later call on
//! it fails with `PreviousIo`, reads included, "until the database is closed" (redb's docs):
//! the handle no longer trusts its view of the file. Closing the file and opening it again makes
//! redb recover the last durable commit, and the new handle works. Readers and the writer use
//! the handle for one operation at a time under a read lock; [`DatabaseSlot::reopen`] takes the
//! write lock, so it waits for the operations in flight and nobody ever holds a closed handle.

use parking_lot::RwLock;
use std::path::{Path, PathBuf};

use redb::{Builder, Database, TransactionError};

use super::db_error::db_error;
use super::options::EmbeddedOptions;
use crate::StorageError;

/// The database file inside the data directory.
pub const DATABASE_FILE_NAME: &str = "prepull.redb";

/// The redb handle of one data directory: open, or closed after an I/O error (with why).
#[derive(Debug)]
pub(super) struct DatabaseSlot {
    dir: PathBuf,
    cache_bytes: usize,
    verify_on_open: bool,
    handle: RwLock<Handle>,
}

#[derive(Debug)]
enum Handle {
    Open(Database),
    /// The old handle was closed and opening a new one failed; the next write retries.
    Closed {
        reason: String,
    },
}

impl DatabaseSlot {
    /// Opens (creating if needed) the database file in `dir`, which must exist.
    pub(super) fn open(
        dir: &Path,
        options: &EmbeddedOptions,
    ) -> Result<DatabaseSlot, StorageError> {
        let slot = DatabaseSlot {
            dir: dir.to_path_buf(),
            cache_bytes: options.cache_bytes,
            verify_on_open: options.verify_on_open,
            handle: RwLock::new(Handle::Closed {
                reason: "not opened yet".to_string(),
            }),
        };
        let db = slot.open_file()?;
        *slot.handle.write() = Handle::Open(db);
        Ok(slot)
    }

    /// The data directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `work` on the open handle. While the handle is closed (an I/O error and a failed
    /// reopen), `Unavailable` saying why.
    pub(super) fn with<T>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let handle = self.handle.read();
        match &*handle {
            Handle::Open(db) => work(db),
            Handle::Closed { reason } => Err(StorageError::Unavailable {
                reason: format!(
                    "the embedded database in {} is closed after an I/O error and could not be \
                     reopened yet: {reason}",
                    self.dir.display()
                ),
            }),
        }
    }

    /// Whether the last reopen failed, leaving no handle.
    pub(super) fn is_closed(&self) -> bool {
        let handle = self.handle.read();
        matches!(&*handle, Handle::Closed { .. })
    }

    /// Whether the handle is unusable: closed, or failing every call with `PreviousIo`.
    /// Takes (and gives back at once) redb's write lock, so call it after a failure only.
    pub(super) fn is_poisoned(&self) -> bool {
        let handle = self.handle.read();
        let Handle::Open(db) = &*handle else {
            return true;
        };
        match db.begin_write() {
            Ok(txn) => {
                // Nothing was written in it: aborting touches no page.
                let _ = txn.abort();
                false
            }
            Err(TransactionError::Storage(redb::StorageError::PreviousIo)) => true,
            Err(_) => false,
        }
    }

    /// Closes the handle and opens the file again, which makes redb recover the last durable
    /// commit. Waits for the operations in flight on the old handle. On failure the slot stays
    /// closed (reads answer `Unavailable`) and the error says why.
    pub(super) fn reopen(&self) -> Result<(), StorageError> {
        let mut handle = self.handle.write();
        // The file lock goes with the old handle; the new open needs it.
        *handle = Handle::Closed {
            reason: "reopening".to_string(),
        };
        match self.open_file() {
            Ok(db) => {
                *handle = Handle::Open(db);
                Ok(())
            }
            Err(err) => {
                *handle = Handle::Closed {
                    reason: err.to_string(),
                };
                Err(err)
            }
        }
    }

    fn open_file(&self) -> Result<Database, StorageError> {
        let path = self.dir.join(DATABASE_FILE_NAME);
        Builder::new()
            .set_cache_size(self.cache_bytes)
            .set_check_integrity_on_open(self.verify_on_open)
            .create(&path)
            .map_err(|err| match db_error(err) {
                StorageError::Corrupt { reason, .. } => StorageError::Corrupt {
                    key: path.display().to_string(),
                    reason,
                },
                StorageError::InsufficientStorage { reason, .. } => {
                    StorageError::InsufficientStorage {
                        path: self.dir.clone(),
                        reason,
                    }
                }
                other => other,
            })
    }
}
