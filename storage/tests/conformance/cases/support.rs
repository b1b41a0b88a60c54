//! What the cases share: bounded waits on watches, paging to the end, error matchers, and a
//! deterministic writer that logs what it did.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use prepull_storage::{
    EventType, KeyValue, ListOptions, Revision, Storage, StorageError, WatchEvent, WatchStream,
};

/// How long any single wait on a backend may take before the case fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The next item of a watch, or `None` when it ended; fails the case after [`WAIT`].
pub async fn next_item(stream: &mut WatchStream) -> Option<Result<WatchEvent, StorageError>> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch produced nothing within the deadline")
}

/// The next event of a watch; fails the case on an error, the end of the stream or a timeout.
pub async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match next_item(stream).await {
        Some(Ok(event)) => event,
        Some(Err(err)) => panic!("the watch failed: {err:?}"),
        None => panic!("the watch ended early"),
    }
}

/// The next `count` events.
pub async fn next_events(stream: &mut WatchStream, count: usize) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        events.push(next_event(stream).await);
    }
    events
}

/// Opens a watch, bounded by [`WAIT`].
pub async fn watch(store: &Arc<dyn Storage>, prefix: &str, after: Revision) -> WatchStream {
    tokio::time::timeout(WAIT, store.watch(prefix, after))
        .await
        .expect("watch did not return within the deadline")
        .unwrap_or_else(|err| panic!("watch({prefix:?}, {after}) failed: {err:?}"))
}

/// The error a watch reports, whether `watch` returns it or the stream's first item does.
pub async fn watch_error(store: &Arc<dyn Storage>, prefix: &str, after: Revision) -> StorageError {
    let opened = tokio::time::timeout(WAIT, store.watch(prefix, after))
        .await
        .expect("watch did not return within the deadline");
    match opened {
        Err(err) => err,
        Ok(mut stream) => match next_item(&mut stream).await {
            Some(Err(err)) => err,
            Some(Ok(event)) => panic!("expected an error, the watch delivered {event:?}"),
            None => panic!("expected an error, the watch ended silently"),
        },
    }
}

/// Unwraps the error of a call that had to fail.
pub fn expect_err<T: Debug>(result: Result<T, StorageError>, what: &str) -> StorageError {
    match result {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(err) => err,
    }
}

/// Asserts an `Expired` error for `requested` and returns its `oldest`.
pub fn assert_expired(err: StorageError, requested: Revision) -> Revision {
    match err {
        StorageError::Expired {
            requested: got,
            oldest,
        } => {
            assert_eq!(got, requested, "Expired names the requested revision");
            assert!(
                oldest > requested,
                "the oldest retained revision {oldest} is after the requested {requested}"
            );
            oldest
        }
        other => panic!("expected Expired for revision {requested}, got {other:?}"),
    }
}

/// Every item under `prefix` with pages of `limit`, checking each page is read at the first
/// page's revision and sorted. Returns the items and that revision.
pub async fn list_all(
    store: &Arc<dyn Storage>,
    prefix: &str,
    limit: u64,
    revision: Option<Revision>,
) -> (Vec<KeyValue>, Revision) {
    let first = store
        .list(
            prefix,
            &ListOptions {
                limit: Some(limit),
                revision,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_or_else(|err| panic!("list {prefix:?} failed: {err:?}"));
    let at = first.revision;
    let mut items = first.items;
    let mut token = first.continue_token;
    assert!(items.len() as u64 <= limit);
    while let Some(next) = token {
        let page = store
            .list(
                prefix,
                &ListOptions {
                    limit: Some(limit),
                    continue_token: Some(next),
                    ..ListOptions::default()
                },
            )
            .await
            .unwrap_or_else(|err| panic!("continuing list {prefix:?} failed: {err:?}"));
        assert_eq!(
            page.revision, at,
            "every page is read at the first page's revision"
        );
        assert!(page.items.len() as u64 <= limit);
        assert!(
            !page.items.is_empty(),
            "a continue token never leads to an empty page"
        );
        items.extend(page.items);
        token = page.continue_token;
    }
    assert!(
        items.windows(2).all(|pair| pair[0].key < pair[1].key),
        "items are sorted by key without duplicates"
    );
    (items, at)
}

/// One write made by [`write_mix`]: its revision, what it did, the key, and the value after
/// it (`None` for a delete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedWrite {
    pub revision: Revision,
    pub event_type: EventType,
    pub key: String,
    pub after: Option<KeyValue>,
}

impl LoggedWrite {
    /// The write as a watch reports it, minus the previous value.
    pub fn matches(&self, event: &WatchEvent) -> bool {
        event.event_type == self.event_type
            && event.kv.key == self.key
            && event.revision() == self.revision
            && self.after.as_ref().is_none_or(|after| *after == event.kv)
    }
}

/// Makes `count` writes under `prefix` (creates, updates and deletes spread over the key
/// space), starting from the live keys in `live`, as the only writer of that prefix. Reports
/// progress (writes done) on `progress` when given.
pub async fn write_mix(
    store: Arc<dyn Storage>,
    prefix: String,
    mut live: BTreeMap<String, KeyValue>,
    count: usize,
    progress: Option<tokio::sync::watch::Sender<usize>>,
) -> Vec<LoggedWrite> {
    let mut log = Vec::with_capacity(count);
    for i in 0..count {
        let pick = |live: &BTreeMap<String, KeyValue>, salt: usize| {
            live.keys().nth((i * salt) % live.len()).cloned()
        };
        let write = match i % 3 {
            1 if !live.is_empty() => {
                let key = pick(&live, 11).expect("a live key");
                let current = live[&key].clone();
                let kv = store
                    .update(&key, bytes(&format!("update {i}")), current.mod_revision)
                    .await
                    .unwrap_or_else(|err| panic!("update {key} failed: {err:?}"));
                live.insert(key.clone(), kv.clone());
                LoggedWrite {
                    revision: kv.mod_revision,
                    event_type: EventType::Updated,
                    key,
                    after: Some(kv),
                }
            }
            2 if !live.is_empty() => {
                let key = pick(&live, 13).expect("a live key");
                let kv = store
                    .delete(&key, None)
                    .await
                    .unwrap_or_else(|err| panic!("delete {key} failed: {err:?}"));
                live.remove(&key);
                LoggedWrite {
                    revision: kv.mod_revision,
                    event_type: EventType::Deleted,
                    key,
                    after: None,
                }
            }
            _ => {
                let key = format!("{prefix}k{:02}-{i:03}", (i * 37) % 100);
                let kv = store
                    .create(&key, bytes(&format!("create {i}")))
                    .await
                    .unwrap_or_else(|err| panic!("create {key} failed: {err:?}"));
                live.insert(key.clone(), kv.clone());
                LoggedWrite {
                    revision: kv.mod_revision,
                    event_type: EventType::Created,
                    key,
                    after: Some(kv),
                }
            }
        };
        log.push(write);
        if let Some(progress) = &progress {
            progress.send_replace(i + 1);
        }
    }
    log
}
