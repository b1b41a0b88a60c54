//! Replaying the change log as watch events: what a watcher reads to catch up, whether it is
//! starting from an old revision or waking up after a commit.

use std::collections::VecDeque;

use redb::Database;

use super::change::{Change, ChangeKind};
use super::db_error::db_error;
use super::reads::begin;
use super::tables::{Bookmarks, CHANGES, META};
use super::versions::version_written_at;
use crate::{EventType, KeyValue, Revision, StorageError, WatchEvent};

/// Events read from the log, and how far the log was read.
#[derive(Debug)]
pub(super) struct HistoryBatch {
    /// Events under the prefix, in revision order. A `Corrupt` error, if any, is last: a
    /// watch stops at the first change it cannot decode.
    pub events: VecDeque<Result<WatchEvent, StorageError>>,
    /// Every change up to this revision has been read (whatever its prefix).
    pub position: Revision,
}

/// Reads up to `max_changes` changes after `position` and keeps those under `prefix`.
/// `Expired` if the log no longer holds every change after `position`.
pub(super) fn read_after(
    db: &Database,
    prefix: &str,
    position: Revision,
    max_changes: usize,
) -> Result<HistoryBatch, StorageError> {
    let txn = begin(db)?;
    let bookmarks = Bookmarks::read(&txn.open_table(META).map_err(db_error)?)?;
    if position < bookmarks.compacted {
        return Err(StorageError::Expired {
            requested: position,
            oldest: bookmarks.compacted,
        });
    }
    let changes = txn.open_table(CHANGES).map_err(db_error)?;
    let mut events = VecDeque::new();
    let mut last_read = position;
    for (scanned, entry) in changes
        .range(position.saturating_add(1)..)
        .map_err(db_error)?
        .enumerate()
    {
        if scanned == max_changes {
            return Ok(HistoryBatch {
                events,
                position: last_read,
            });
        }
        let (revision, record) = entry.map_err(db_error)?;
        let revision = revision.value();
        last_read = revision;
        let event = Change::decode(revision, record.value())
            .and_then(|change| {
                if change.key.starts_with(prefix) {
                    to_event(&changes, revision, change).map(Some)
                } else {
                    Ok(None)
                }
            })
            .transpose();
        match event {
            None => {}
            Some(Ok(event)) => events.push_back(Ok(event)),
            Some(Err(err)) => {
                events.push_back(Err(err));
                return Ok(HistoryBatch {
                    events,
                    position: revision,
                });
            }
        }
    }
    Ok(HistoryBatch {
        events,
        position: last_read.max(bookmarks.current.max(position)),
    })
}

/// Builds the event for `change`, written at `revision`, looking up the previous version.
fn to_event(
    changes: &impl redb::ReadableTable<u64, &'static [u8]>,
    revision: Revision,
    change: Change,
) -> Result<WatchEvent, StorageError> {
    let previous = match change.prev_revision {
        Some(prev) => {
            Some(
                version_written_at(changes, prev)?.ok_or_else(|| StorageError::Corrupt {
                    key: change.key.clone(),
                    reason: format!("previous version at revision {prev} is not a put"),
                })?,
            )
        }
        None => None,
    };
    let prev = previous.as_ref().map(|v| v.open()).transpose()?;
    match change.kind {
        ChangeKind::Put => {
            let kv = KeyValue {
                value: crate::envelope::open(&change.key, change.sealed_value)?,
                key: change.key,
                create_revision: change.create_revision,
                mod_revision: revision,
            };
            let event_type = if prev.is_some() {
                EventType::Updated
            } else {
                EventType::Created
            };
            Ok(WatchEvent {
                event_type,
                kv,
                prev,
            })
        }
        ChangeKind::Delete => {
            let prev = prev.ok_or_else(|| StorageError::Corrupt {
                key: change.key.clone(),
                reason: "delete record without a previous version".to_string(),
            })?;
            let kv = KeyValue {
                mod_revision: revision,
                ..prev.clone()
            };
            Ok(WatchEvent {
                event_type: EventType::Deleted,
                kv,
                prev: Some(prev),
            })
        }
    }
}
