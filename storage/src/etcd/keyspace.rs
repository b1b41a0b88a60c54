//! The mapping between the keys callers use (`/<group>/<plural>/...`) and etcd's keys (the same
//! under the configured root prefix), and between etcd's key-values and ours (sealed values
//! opened, revisions unsigned).

use bytes::Bytes;

use crate::{KeyValue, Revision, StorageError, envelope};

/// The root prefix of one store. Callers' keys start with `/`; etcd's key is root + key.
#[derive(Clone, Debug)]
pub(crate) struct Keyspace {
    root: String,
}

impl Keyspace {
    /// `root` with any trailing `/` removed, so `root + "/g/p"` never doubles the slash.
    pub(crate) fn new(root: &str) -> Keyspace {
        Keyspace {
            root: root.trim_end_matches('/').to_string(),
        }
    }

    /// The etcd key of a caller's key.
    pub(crate) fn etcd_key(&self, key: &str) -> String {
        format!("{}{key}", self.root)
    }

    /// The etcd range `[start, end)` holding every key under the caller's `prefix`. An empty
    /// prefix means every key of this store (and none of a sibling root like `/registryx`).
    pub(crate) fn prefix_range(&self, prefix: &str) -> (String, Vec<u8>) {
        let start = if prefix.is_empty() {
            format!("{}/", self.root)
        } else {
            self.etcd_key(prefix)
        };
        let end = range_end(start.as_bytes());
        (start, end)
    }

    /// A key-value read from etcd, in the caller's terms: key relative to the root, value
    /// opened from its envelope ([`StorageError::Corrupt`] when it does not open).
    pub(crate) fn read_etcd(&self, kv: etcd_client::KeyValue) -> Result<KeyValue, StorageError> {
        let create_revision = unsigned(kv.create_revision());
        let mod_revision = unsigned(kv.mod_revision());
        let (raw_key, raw_value) = kv.into_key_value();
        let key = self.caller_key(raw_key)?;
        let value = envelope::open(&key, Bytes::from(raw_value))?;
        Ok(KeyValue {
            key,
            value,
            create_revision,
            mod_revision,
        })
    }

    /// The last value of a key deleted at `deleted_at`. Deleting is how an operator gets rid
    /// of a damaged value, so an unreadable one is reported empty instead of failing the
    /// delete that already happened.
    pub(crate) fn read_deleted(
        &self,
        kv: etcd_client::KeyValue,
        deleted_at: Revision,
    ) -> Result<KeyValue, StorageError> {
        let create_revision = unsigned(kv.create_revision());
        let (raw_key, raw_value) = kv.into_key_value();
        let key = self.caller_key(raw_key)?;
        let value = envelope::open(&key, Bytes::from(raw_value)).unwrap_or_default();
        Ok(KeyValue {
            key,
            value,
            create_revision,
            mod_revision: deleted_at,
        })
    }

    /// The caller's key of an etcd key under this root.
    fn caller_key(&self, raw: Vec<u8>) -> Result<String, StorageError> {
        let key = String::from_utf8(raw).map_err(|err| StorageError::Corrupt {
            key: String::from_utf8_lossy(err.as_bytes()).into_owned(),
            reason: "key is not UTF-8".to_string(),
        })?;
        match key.strip_prefix(&self.root) {
            Some(relative) => Ok(relative.to_string()),
            None => Err(StorageError::Internal(format!(
                "etcd returned key {key:?} outside the root prefix {:?}",
                self.root
            ))),
        }
    }
}

/// etcd revisions are `i64` but never negative; a negative one would be an etcd bug, read as 0.
pub(crate) fn unsigned(revision: i64) -> Revision {
    Revision::try_from(revision).unwrap_or(0)
}

/// A revision for etcd, saturating (no store reaches `i64::MAX` revisions; a caller asking for
/// one gets "too large" from etcd).
pub(crate) fn signed(revision: Revision) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

/// The smallest key greater than every key starting with `prefix` (etcd's "range end" of a
/// prefix): the prefix with its last byte below 0xff incremented and the rest dropped.
fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Only 0xff bytes: every key from the prefix on (etcd's "\0" end = no upper bound).
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_prefix_is_prepended_once_whatever_its_trailing_slash() {
        for root in ["/registry", "/registry/", "/registry//"] {
            assert_eq!(
                Keyspace::new(root).etcd_key("/apps.kruise.io/nodeimages/n1"),
                "/registry/apps.kruise.io/nodeimages/n1"
            );
        }
    }

    #[test]
    fn a_prefix_range_covers_exactly_the_keys_under_the_prefix() {
        let keyspace = Keyspace::new("/registry");
        let (start, end) = keyspace.prefix_range("/g/p/");
        assert_eq!(start, "/registry/g/p/");
        assert_eq!(end, b"/registry/g/p0");
        assert!(b"/registry/g/p/zzz".as_slice() < end.as_slice());
        assert!(b"/registry/g/pp".as_slice() >= end.as_slice());
    }

    #[test]
    fn an_empty_prefix_covers_the_whole_root_but_not_a_sibling_root() {
        let (start, end) = Keyspace::new("/registry").prefix_range("");
        assert_eq!(start, "/registry/");
        assert_eq!(end, b"/registry0");
        assert!(b"/registryx/a".as_slice() >= end.as_slice());
    }

    #[test]
    fn range_end_skips_trailing_ff_bytes() {
        assert_eq!(range_end(&[b'a', 0xff]), vec![b'b']);
        assert_eq!(range_end(&[0xff, 0xff]), vec![0]);
    }
}
