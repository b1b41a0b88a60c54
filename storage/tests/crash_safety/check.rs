//! The parent side after a kill: reopen the store and check it against every acknowledgement
//! seen so far.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use prepull_storage::embedded::EmbeddedStore;
use prepull_storage::{EventType, KeyValue, ListOptions, Revision, Storage, WatchEvent};

use crate::ack::Ack;
use crate::writer::options;

const WAIT: Duration = Duration::from_secs(20);

/// Opens the store in `dir` after a kill and checks that
/// - its revision never went back (`at_least`: the revision the last check saw) and covers
///   every acknowledged write;
/// - the change log, watched from revision 0, is revisions 1, 2, ... up to the current one:
///   no gap, no duplicate;
/// - every acknowledged write is in it, at its revision, as acknowledged;
/// - a list agrees with the log replayed.
///
/// Returns the current revision.
pub async fn check_after_kill(
    dir: &Path,
    acks: &[Ack],
    at_least: Revision,
) -> Result<Revision, String> {
    let store = EmbeddedStore::open(dir, options()).map_err(|err| format!("reopen: {err}"))?;
    let current = store.current_revision().await.map_err(|e| e.to_string())?;
    if current < at_least {
        return Err(format!(
            "the revision went back from {at_least} to {current}"
        ));
    }
    let newest_ack = acks.iter().map(|ack| ack.revision).max().unwrap_or(0);
    if current < newest_ack {
        return Err(format!(
            "revision {newest_ack} was acknowledged, the store is at {current}"
        ));
    }

    let events = replay(&store, current).await?;
    for ack in acks {
        let event = &events[(ack.revision - 1) as usize];
        let value = (ack.event_type != EventType::Deleted)
            .then(|| String::from_utf8_lossy(&event.kv.value).into_owned());
        if event.event_type != ack.event_type || event.kv.key != ack.key || value != ack.value {
            return Err(format!(
                "acknowledged {ack:?} but revision {} is {:?} {} {value:?}",
                ack.revision, event.event_type, event.kv.key
            ));
        }
    }

    let mut state: BTreeMap<String, KeyValue> = BTreeMap::new();
    for event in &events {
        match event.event_type {
            EventType::Deleted => state.remove(&event.kv.key),
            _ => state.insert(event.kv.key.clone(), event.kv.clone()),
        };
    }
    let listed = store
        .list("/crash/", &ListOptions::default())
        .await
        .map_err(|err| format!("list: {err}"))?;
    if listed.revision != current || listed.items != state.into_values().collect::<Vec<_>>() {
        return Err("a list disagrees with the change log replayed".to_string());
    }
    Ok(current)
}

/// Every event from revision 1 to `current`, checking they come one revision apart.
async fn replay(store: &EmbeddedStore, current: Revision) -> Result<Vec<WatchEvent>, String> {
    let mut stream = store.watch("/crash/", 0).await.map_err(|e| e.to_string())?;
    let mut events = Vec::with_capacity(current as usize);
    while (events.len() as u64) < current {
        let event = tokio::time::timeout(WAIT, stream.next())
            .await
            .map_err(|_| format!("the watch stalled after {} events", events.len()))?
            .ok_or("the watch ended early")?
            .map_err(|err| format!("the watch failed: {err}"))?;
        let expected = events.len() as u64 + 1;
        if event.revision() != expected {
            return Err(format!(
                "the change log has revision {} where {expected} was due (a gap or a duplicate)",
                event.revision()
            ));
        }
        events.push(event);
    }
    Ok(events)
}
