//! What [`crate::fuzzing`] needs of the change records, without widening their visibility.

use super::change::{Change, ChangeHeader, ChangeKind};
use crate::{Revision, StorageError};

/// [`Change::decode`]: (put?, key, sealed value).
pub(crate) fn decode_change(
    revision: Revision,
    record: &[u8],
) -> Result<(bool, String, Vec<u8>), StorageError> {
    Change::decode(revision, record)
        .map(|c| (c.kind == ChangeKind::Put, c.key, c.sealed_value.to_vec()))
}

/// [`ChangeHeader::decode`]: (put?, key).
pub(crate) fn decode_change_header(
    revision: Revision,
    record: &[u8],
) -> Result<(bool, String), StorageError> {
    ChangeHeader::decode(revision, record).map(|h| (h.kind == ChangeKind::Put, h.key))
}

/// The record decoded and encoded again, if it decodes.
pub(crate) fn encode_change(record: &[u8]) -> Option<Vec<u8>> {
    Change::decode(0, record).ok().map(|c| c.encode())
}
