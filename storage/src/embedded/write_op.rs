//! One write applied inside the writer's transaction: its precondition checked against the
//! state so far (earlier writes of the same batch included), its change recorded.

use bytes::Bytes;
use redb::Table;

use super::change::{Change, ChangeKind};
use super::db_error::db_error;
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

/// Applies one write. The inner result is the request's verdict; the outer one a database
/// failure that aborts the batch.
pub(super) fn apply(
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
