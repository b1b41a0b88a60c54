//! Reading a key's version at a revision, in a read or a write transaction alike.

use bytes::Bytes;
use redb::ReadableTable;

use super::change::{Change, ChangeKind};
use super::db_error::db_error;
use crate::{KeyValue, Revision, StorageError, envelope};

/// A live version of a key, its value still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Version {
    pub key: String,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    pub sealed_value: Bytes,
}

impl Version {
    /// The version as callers see it; `Corrupt` if the value's envelope is damaged.
    pub(super) fn open(&self) -> Result<KeyValue, StorageError> {
        Ok(KeyValue {
            key: self.key.clone(),
            value: envelope::open(&self.key, self.sealed_value.clone())?,
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        })
    }
}

/// The change record written at `revision`. A missing record is corruption: the index only
/// names revisions whose records exist.
pub(super) fn read_change(
    changes: &impl ReadableTable<u64, &'static [u8]>,
    revision: Revision,
) -> Result<Change, StorageError> {
    let record = changes
        .get(revision)
        .map_err(db_error)?
        .ok_or_else(|| StorageError::Corrupt {
            key: format!("(change record at revision {revision})"),
            reason: "record missing from the change log".to_string(),
        })?;
    Change::decode(revision, record.value())
}

/// The revision of the last change to `key` at or before `at`, if any is retained.
pub(super) fn last_change_at(
    key_versions: &impl ReadableTable<(&'static str, u64), ()>,
    key: &str,
    at: Revision,
) -> Result<Option<Revision>, StorageError> {
    let mut range = key_versions
        .range((key, 0u64)..=(key, at))
        .map_err(db_error)?;
    match range.next_back() {
        Some(entry) => Ok(Some(entry.map_err(db_error)?.0.value().1)),
        None => Ok(None),
    }
}

/// The version stored at `revision` if that change is a put (`None` for a delete).
pub(super) fn version_written_at(
    changes: &impl ReadableTable<u64, &'static [u8]>,
    revision: Revision,
) -> Result<Option<Version>, StorageError> {
    let change = read_change(changes, revision)?;
    Ok(match change.kind {
        ChangeKind::Put => Some(Version {
            key: change.key,
            create_revision: change.create_revision,
            mod_revision: revision,
            sealed_value: change.sealed_value,
        }),
        ChangeKind::Delete => None,
    })
}

/// The live version of `key` at revision `at` (`None` if absent then).
pub(super) fn version_at(
    changes: &impl ReadableTable<u64, &'static [u8]>,
    key_versions: &impl ReadableTable<(&'static str, u64), ()>,
    key: &str,
    at: Revision,
) -> Result<Option<Version>, StorageError> {
    match last_change_at(key_versions, key, at)? {
        Some(revision) => version_written_at(changes, revision),
        None => Ok(None),
    }
}
