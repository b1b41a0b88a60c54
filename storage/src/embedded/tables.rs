//! The redb tables of the embedded store and the bookkeeping values in `meta`.
//!
//! - `changes`: revision -> [`super::change::Change`] record. One entry per write; the change
//!   log that watches replay and that versions are read from.
//! - `key_versions`: (key, revision) -> (). Index of the revisions at which each key changed, in
//!   key order then revision order: the version of a key at revision R is its last entry <= R.
//! - `meta`: the store's current revision, its compaction point, the format version, and a
//!   counter that write probes bump (see `writer.rs`).

use redb::{ReadableTable, TableDefinition};

use super::db_error::db_error;
use crate::{Revision, StorageError};

pub(super) const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
pub(super) const KEY_VERSIONS: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("key_versions");
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Meta entry: the revision of the last committed write (0 for an empty store).
pub(super) const CURRENT_REVISION: &str = "current_revision";
/// Meta entry: the compaction point C. Reads at revisions >= C and watches after revisions >= C
/// are served; anything older is `Expired`.
pub(super) const COMPACTED: &str = "compacted";
/// Meta entry: how many write probes committed; nothing reads it, a probe needs something to
/// write to prove that commits reach the disk.
pub(super) const PROBES: &str = "write_probes";
/// Meta entry: the on-disk format version, written when the store is created.
pub(super) const FORMAT: &str = "format";
/// The format this code writes and reads.
pub(super) const FORMAT_VERSION: u64 = 1;

/// The revision bookkeeping of one snapshot of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Bookmarks {
    pub current: Revision,
    pub compacted: Revision,
}

impl Bookmarks {
    pub(super) fn read(meta: &impl ReadableTable<&'static str, u64>) -> Result<Self, StorageError> {
        let get = |name: &str| -> Result<Revision, StorageError> {
            Ok(meta.get(name).map_err(db_error)?.map_or(0, |v| v.value()))
        };
        Ok(Bookmarks {
            current: get(CURRENT_REVISION)?,
            compacted: get(COMPACTED)?,
        })
    }
}
