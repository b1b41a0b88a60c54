//! Discarding history before a compaction point C, inside a write transaction.
//!
//! After compaction to C the store must still answer reads at any revision >= C and replay
//! every change after C with its previous value. So, per key, the last version at or before C
//! stays (unless it is a delete older than C: then the key was absent at C and nothing of it is
//! needed), and every version superseded by a change at or before C goes.
//!
//! Each change in `[old C, new C]` supersedes its key's older versions; walking those changes
//! in revision order and removing, for each, the key's entries older than it leaves exactly the
//! versions described above. Starting at the old C itself lets a delete that was the
//! compaction point last time (kept then, since reads at C needed it) be dropped now.

use redb::{ReadableTable, Table};

use super::change::{ChangeHeader, ChangeKind};
use super::db_error::db_error;
use super::tables::COMPACTED;
use crate::{Revision, StorageError};

/// How many changes are decoded at a time, bounding memory for a large compaction.
const CHUNK: usize = 1024;

/// Compacts the history from `from` (the previous compaction point) to `to` and records `to`
/// as the new point. `to` must not exceed the current revision.
pub(super) fn compact(
    changes: &mut Table<'_, u64, &'static [u8]>,
    key_versions: &mut Table<'_, (&'static str, u64), ()>,
    meta: &mut Table<'_, &'static str, u64>,
    from: Revision,
    to: Revision,
) -> Result<(), StorageError> {
    let mut cursor = from.max(1);
    while cursor <= to {
        let mut chunk = Vec::with_capacity(CHUNK);
        for entry in changes.range(cursor..=to).map_err(db_error)?.take(CHUNK) {
            let (revision, record) = entry.map_err(db_error)?;
            let revision = revision.value();
            match ChangeHeader::decode(revision, record.value()) {
                Ok(header) => chunk.push((revision, header)),
                // A record that cannot be decoded names no key: leave it (and the key's older
                // versions) in place rather than fail every later write's trim.
                Err(err) => tracing::warn!(%err, "kept an undecodable change during compaction"),
            }
            cursor = revision + 1;
        }
        if chunk.is_empty() {
            break;
        }
        for (revision, header) in chunk {
            let key = header.key.as_str();
            let superseded: Vec<Revision> = key_versions
                .range((key, 0u64)..(key, revision))
                .map_err(db_error)?
                .map(|entry| entry.map(|(index_key, _)| index_key.value().1))
                .collect::<Result<_, _>>()
                .map_err(db_error)?;
            for old in superseded {
                remove_version(changes, key_versions, key, old)?;
            }
            if header.kind == ChangeKind::Delete && revision < to {
                remove_version(changes, key_versions, key, revision)?;
            }
        }
    }
    meta.insert(COMPACTED, to).map_err(db_error)?;
    Ok(())
}

fn remove_version(
    changes: &mut Table<'_, u64, &'static [u8]>,
    key_versions: &mut Table<'_, (&'static str, u64), ()>,
    key: &str,
    revision: Revision,
) -> Result<(), StorageError> {
    key_versions.remove((key, revision)).map_err(db_error)?;
    changes.remove(revision).map_err(db_error)?;
    Ok(())
}
