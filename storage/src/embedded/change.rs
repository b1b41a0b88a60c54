//! One write as the change log stores it: the record behind each revision.
//!
//! Layout (all integers little-endian):
//! `tag:u8 | create_revision:u64 | prev_revision:u64 | key_len:u32 | key | value`, where `tag` is
//! [`PUT`] or [`DELETE`], `prev_revision` is 0 for "none", and `value` (the rest of the record)
//! is the sealed value for a put and empty for a delete. A delete carries the create revision of
//! the version it removed so a reader need not look it up.

use bytes::Bytes;

use crate::{Revision, StorageError};

const PUT: u8 = 1;
const DELETE: u8 = 2;
const HEADER_LEN: usize = 1 + 8 + 8 + 4;

/// What a write did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ChangeKind {
    /// The key got a value (a create when `prev_revision` is `None`).
    Put,
    /// The key was removed; `prev_revision` names the version removed.
    Delete,
}

/// A decoded change record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Change {
    pub kind: ChangeKind,
    pub key: String,
    /// Revision at which the key (this incarnation of it) was created.
    pub create_revision: Revision,
    /// The key's previous live version: `None` for a create, always set for an update or delete.
    pub prev_revision: Option<Revision>,
    /// The sealed value (see [`crate::envelope`]); empty for a delete.
    pub sealed_value: Bytes,
}

/// The parts of a record compaction needs, read without copying the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ChangeHeader {
    pub kind: ChangeKind,
    pub key: String,
}

impl Change {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.key.len() + self.sealed_value.len());
        out.push(match self.kind {
            ChangeKind::Put => PUT,
            ChangeKind::Delete => DELETE,
        });
        out.extend_from_slice(&self.create_revision.to_le_bytes());
        out.extend_from_slice(&self.prev_revision.unwrap_or(0).to_le_bytes());
        let key_len = u32::try_from(self.key.len()).expect("keys are far shorter than 4 GiB");
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out.extend_from_slice(&self.sealed_value);
        out
    }

    /// Decodes the record stored at `revision` (named in the error if the record is damaged).
    pub(super) fn decode(revision: Revision, record: &[u8]) -> Result<Change, StorageError> {
        let fields = Fields::parse(revision, record)?;
        Ok(Change {
            kind: fields.kind,
            key: fields.key,
            create_revision: fields.create_revision,
            prev_revision: fields.prev_revision,
            sealed_value: Bytes::copy_from_slice(&record[fields.value_start..]),
        })
    }
}

impl ChangeHeader {
    pub(super) fn decode(revision: Revision, record: &[u8]) -> Result<ChangeHeader, StorageError> {
        let fields = Fields::parse(revision, record)?;
        Ok(ChangeHeader {
            kind: fields.kind,
            key: fields.key,
        })
    }
}

struct Fields {
    kind: ChangeKind,
    key: String,
    create_revision: Revision,
    prev_revision: Option<Revision>,
    value_start: usize,
}

impl Fields {
    fn parse(revision: Revision, record: &[u8]) -> Result<Fields, StorageError> {
        let corrupt = |reason: &str| StorageError::Corrupt {
            key: format!("(change record at revision {revision})"),
            reason: reason.to_string(),
        };
        if record.len() < HEADER_LEN {
            return Err(corrupt("record shorter than its header"));
        }
        let kind = match record[0] {
            PUT => ChangeKind::Put,
            DELETE => ChangeKind::Delete,
            _ => return Err(corrupt("unknown record tag")),
        };
        let u64_at =
            |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
        let create_revision = u64_at(1);
        let prev_revision = Some(u64_at(9)).filter(|rev| *rev != 0);
        let key_len = u32::from_le_bytes(record[17..21].try_into().expect("4 bytes")) as usize;
        let value_start = HEADER_LEN
            .checked_add(key_len)
            .filter(|end| *end <= record.len())
            .ok_or_else(|| corrupt("key runs past the record"))?;
        let key = std::str::from_utf8(&record[HEADER_LEN..value_start])
            .map_err(|_| corrupt("key is not UTF-8"))?
            .to_string();
        if kind == ChangeKind::Delete && (prev_revision.is_none() || value_start != record.len()) {
            return Err(corrupt("malformed delete record"));
        }
        Ok(Fields {
            kind,
            key,
            create_revision,
            prev_revision,
            value_start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_and_a_delete_decode_to_what_was_encoded() {
        let put = Change {
            kind: ChangeKind::Put,
            key: "/g/p/ns/a".into(),
            create_revision: 3,
            prev_revision: Some(5),
            sealed_value: Bytes::from_static(b"sealed"),
        };
        assert_eq!(Change::decode(7, &put.encode()).unwrap(), put);
        let delete = Change {
            kind: ChangeKind::Delete,
            key: "/g/p/ns/a".into(),
            create_revision: 3,
            prev_revision: Some(7),
            sealed_value: Bytes::new(),
        };
        let header = ChangeHeader::decode(8, &delete.encode()).unwrap();
        assert_eq!(header.kind, ChangeKind::Delete);
        assert_eq!(Change::decode(8, &delete.encode()).unwrap(), delete);
    }

    #[test]
    fn truncated_or_unknown_records_are_corrupt() {
        let put = Change {
            kind: ChangeKind::Put,
            key: "/k".into(),
            create_revision: 1,
            prev_revision: None,
            sealed_value: Bytes::new(),
        }
        .encode();
        for bad in [&put[..put.len() - 1], &[9u8; 30][..], &[][..]] {
            assert!(matches!(
                Change::decode(1, bad),
                Err(StorageError::Corrupt { .. })
            ));
        }
    }
}
