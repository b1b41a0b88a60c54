//! Point reads and paged lists, each in one read transaction (one consistent snapshot). These
//! block on the disk: callers run them off the async runtime.

use redb::{Database, ReadTransaction, ReadableDatabase};

use super::db_error::db_error;
use super::tables::{Bookmarks, CHANGES, KEY_VERSIONS, META};
use super::versions::{Version, version_at, version_written_at};
use crate::{KeyValue, ListOptions, ListPage, Revision, StorageError, continue_token};

pub(super) fn begin(db: &Database) -> Result<ReadTransaction, StorageError> {
    db.begin_read().map_err(db_error)
}

/// The store's bookkeeping as of now.
pub(super) fn bookmarks(db: &Database) -> Result<Bookmarks, StorageError> {
    let txn = begin(db)?;
    Bookmarks::read(&txn.open_table(META).map_err(db_error)?)
}

/// The latest value of `key`.
pub(super) fn get(db: &Database, key: &str) -> Result<KeyValue, StorageError> {
    let txn = begin(db)?;
    let changes = txn.open_table(CHANGES).map_err(db_error)?;
    let key_versions = txn.open_table(KEY_VERSIONS).map_err(db_error)?;
    match version_at(&changes, &key_versions, key, Revision::MAX)? {
        Some(version) => version.open(),
        None => Err(StorageError::NotFound {
            key: key.to_string(),
        }),
    }
}

/// One page of the keys under `prefix` (see [`crate::Storage::list`]). A requested revision of
/// 0 means the latest, as etcd reads it.
pub(super) fn list(
    db: &Database,
    prefix: &str,
    options: &ListOptions,
) -> Result<ListPage, StorageError> {
    let txn = begin(db)?;
    let bookmarks = Bookmarks::read(&txn.open_table(META).map_err(db_error)?)?;
    let (revision, start_key) = match &options.continue_token {
        Some(token) => {
            let next = continue_token::decode(prefix, token)?;
            (next.revision, next.start_key)
        }
        None => (
            options
                .revision
                .filter(|rev| *rev != 0)
                .unwrap_or(bookmarks.current),
            prefix.to_string(),
        ),
    };
    if revision > bookmarks.current {
        return Err(StorageError::RevisionTooLarge {
            requested: revision,
            current: bookmarks.current,
        });
    }
    if revision < bookmarks.compacted {
        return Err(StorageError::Expired {
            requested: revision,
            oldest: bookmarks.compacted,
        });
    }
    let limit = options
        .limit
        .filter(|limit| *limit > 0)
        .map_or(usize::MAX, |limit| {
            usize::try_from(limit).unwrap_or(usize::MAX)
        });

    let changes = txn.open_table(CHANGES).map_err(db_error)?;
    let key_versions = txn.open_table(KEY_VERSIONS).map_err(db_error)?;
    let mut page = PageBuilder {
        limit,
        items: Vec::new(),
        more: false,
    };
    // The index holds every retained (key, revision) pair in key order, then revision order:
    // walk it once, remembering per key the last revision at or before the listed one.
    let mut candidate: Option<(String, Option<Revision>)> = None;
    for entry in key_versions
        .range((start_key.as_str(), 0u64)..)
        .map_err(db_error)?
    {
        let (index_key, _) = entry.map_err(db_error)?;
        let (key, changed_at) = index_key.value();
        if !key.starts_with(prefix) {
            break;
        }
        let visible = (changed_at <= revision).then_some(changed_at);
        match &mut candidate {
            Some((current_key, best)) if current_key == key => {
                if visible.is_some() {
                    *best = visible;
                }
            }
            _ => {
                if let Some((_, Some(best))) = candidate.take()
                    && !page.offer(version_written_at(&changes, best)?)?
                {
                    break;
                }
                candidate = Some((key.to_string(), visible));
            }
        }
    }
    if !page.more
        && let Some((_, Some(best))) = candidate
    {
        page.offer(version_written_at(&changes, best)?)?;
    }

    let continue_token = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(continue_token::encode(prefix, &last.key, revision)),
        _ => None,
    };
    Ok(ListPage {
        items: page.items,
        revision,
        continue_token,
        remaining: None,
    })
}

struct PageBuilder {
    limit: usize,
    items: Vec<KeyValue>,
    more: bool,
}

impl PageBuilder {
    /// Adds a key's version (if live) to the page. Returns false once the page is full and one
    /// more live key exists, which is when the walk stops.
    fn offer(&mut self, version: Option<Version>) -> Result<bool, StorageError> {
        let Some(version) = version else {
            return Ok(true);
        };
        if self.items.len() == self.limit {
            self.more = true;
            return Ok(false);
        }
        self.items.push(version.open()?);
        Ok(true)
    }
}
