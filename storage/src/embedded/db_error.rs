//! How redb's failures map onto [`StorageError`]: damage is `Corrupt`, a full disk is
//! `InsufficientStorage`, other I/O trouble and a file held by another process are
//! `Unavailable`, everything else (bugs, misuse) is `Internal`.

use std::io::ErrorKind;
use std::path::PathBuf;

use crate::StorageError;

/// What a `Corrupt` error names when the damage is in the database file rather than one key.
pub(super) const DATABASE_FILE: &str = "(embedded database file)";

/// Translates any redb error. An `InsufficientStorage` leaves `path` empty: this translation
/// does not know the data directory, the writer names it (see `write_health.rs`).
pub(super) fn db_error(err: impl Into<redb::Error>) -> StorageError {
    match err.into() {
        redb::Error::Corrupted(reason) => StorageError::Corrupt {
            key: DATABASE_FILE.to_string(),
            reason,
        },
        redb::Error::TableTypeMismatch { table, .. } => StorageError::Corrupt {
            key: DATABASE_FILE.to_string(),
            reason: format!("table {table:?} has an unexpected layout"),
        },
        redb::Error::UpgradeRequired(version) => StorageError::Corrupt {
            key: DATABASE_FILE.to_string(),
            reason: format!("file format {version} needs an upgrade this build cannot do"),
        },
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
            StorageError::Unavailable {
                reason: "the embedded database file is already open in another process (or in \
                         this one); only one server may use a data directory at a time"
                    .to_string(),
            }
        }
        // redb reports a file that is not one of its databases this way.
        redb::Error::Io(err) if err.kind() == std::io::ErrorKind::InvalidData => {
            StorageError::Corrupt {
                key: DATABASE_FILE.to_string(),
                reason: err.to_string(),
            }
        }
        redb::Error::Io(err)
            if matches!(
                err.kind(),
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded
            ) =>
        {
            StorageError::InsufficientStorage {
                path: PathBuf::new(),
                reason: err.to_string(),
            }
        }
        redb::Error::Io(err) => StorageError::Unavailable {
            reason: format!("embedded database I/O error: {err}"),
        },
        redb::Error::PreviousIo => StorageError::Unavailable {
            reason: "embedded database had an I/O error earlier; it is being reopened".to_string(),
        },
        other => StorageError::Internal(format!("embedded database: {other}")),
    }
}
