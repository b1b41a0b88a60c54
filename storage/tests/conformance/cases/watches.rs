//! Watches: event order and previous values, resuming without gaps, prefix isolation.

use std::collections::BTreeMap;

use prepull_storage::{EventType, KeyValue, WatchEvent};

use super::support::{LoggedWrite, bytes, next_event, next_events, watch, write_mix};
use crate::conformance::Backend;

pub async fn watch_delivers_every_change_in_order_with_previous_values(backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/watch-order/";
    let start = store.current_revision().await.unwrap();
    let mut stream = watch(&store, prefix, start).await;

    let a1 = store.create("/c/watch-order/a", bytes("a1")).await.unwrap();
    let a2 = store
        .update("/c/watch-order/a", bytes("a2"), a1.mod_revision)
        .await
        .unwrap();
    store
        .create("/c/other/x", bytes("elsewhere"))
        .await
        .unwrap();
    let b = store.create("/c/watch-order/b", bytes("b")).await.unwrap();
    let deleted = store.delete("/c/watch-order/a", None).await.unwrap();
    let a3 = store.create("/c/watch-order/a", bytes("a3")).await.unwrap();
    let b2 = store
        .update("/c/watch-order/b", bytes("b2"), b.mod_revision)
        .await
        .unwrap();
    let b_deleted = store
        .delete("/c/watch-order/b", Some(b2.mod_revision))
        .await
        .unwrap();

    let expected = vec![
        WatchEvent {
            event_type: EventType::Created,
            kv: a1.clone(),
            prev: None,
        },
        WatchEvent {
            event_type: EventType::Updated,
            kv: a2.clone(),
            prev: Some(a1.clone()),
        },
        WatchEvent {
            event_type: EventType::Created,
            kv: b.clone(),
            prev: None,
        },
        WatchEvent {
            event_type: EventType::Deleted,
            // The last value, at the revision of the delete.
            kv: KeyValue {
                mod_revision: deleted.mod_revision,
                ..a2.clone()
            },
            prev: Some(a2),
        },
        WatchEvent {
            event_type: EventType::Created,
            kv: a3.clone(),
            prev: None,
        },
        WatchEvent {
            event_type: EventType::Updated,
            kv: b2.clone(),
            prev: Some(b),
        },
        WatchEvent {
            event_type: EventType::Deleted,
            kv: KeyValue {
                mod_revision: b_deleted.mod_revision,
                ..b2.clone()
            },
            prev: Some(b2),
        },
    ];
    let events = next_events(&mut stream, expected.len()).await;
    assert_eq!(events, expected);
    assert_eq!(
        deleted, expected[3].kv,
        "delete returns what the watch reports"
    );
    assert!(
        a3.create_revision > a1.create_revision,
        "a re-created key is new"
    );

    // Nothing else was queued: the next event is the next write.
    let sentinel = store
        .create("/c/watch-order/sentinel", bytes("s"))
        .await
        .unwrap();
    assert_eq!(next_event(&mut stream).await.kv, sentinel);
}

pub async fn watch_resumes_from_a_revision_without_gaps(backend: impl Backend) {
    const WRITES: usize = 120;
    let store = backend.store();
    let prefix = "/c/resume/";
    let start = store.current_revision().await.unwrap();
    let writer = tokio::spawn(write_mix(
        store.clone(),
        prefix.to_string(),
        BTreeMap::new(),
        WRITES,
        None,
    ));

    // Watch while the writer runs, drop the watch part way, resume after the last event seen.
    let mut stream = watch(&store, prefix, start).await;
    let mut seen = next_events(&mut stream, 40).await;
    drop(stream);
    let resume_after = seen.last().unwrap().revision();
    let mut resumed = watch(&store, prefix, resume_after).await;
    let log = writer.await.unwrap();
    seen.extend(next_events(&mut resumed, WRITES - seen.len()).await);
    assert_matches_log(&seen, &log);

    // A watch opened later from the middle of the history gets exactly what came after.
    let middle = log[70].revision;
    let mut late = watch(&store, prefix, middle).await;
    let rest = next_events(&mut late, WRITES - 71).await;
    assert_matches_log(&rest, &log[71..]);

    // Neither watch holds extra or duplicate events: the next one is the next write.
    let sentinel = store
        .create("/c/resume/zz-sentinel", bytes("s"))
        .await
        .unwrap();
    assert_eq!(next_event(&mut resumed).await.kv, sentinel);
    assert_eq!(next_event(&mut late).await.kv, sentinel);
}

fn assert_matches_log(events: &[WatchEvent], log: &[LoggedWrite]) {
    assert_eq!(events.len(), log.len());
    for (event, write) in events.iter().zip(log) {
        assert!(write.matches(event), "expected {write:?}, got {event:?}");
    }
}

pub async fn watch_only_sees_its_prefix(backend: impl Backend) {
    let store = backend.store();
    let start = store.current_revision().await.unwrap();
    let mut stream = watch(&store, "/c/scope/a/", start).await;
    let mut expected = Vec::new();
    for key in [
        "/c/scope/a/x",
        "/c/scope/ab/x",
        "/c/scope/a",
        "/c/scope/b/x",
        "/c/scope/a/y/z",
        "/c/scope/",
        "/c/scope/a/zz",
    ] {
        let kv = store.create(key, bytes(key)).await.unwrap();
        if key.starts_with("/c/scope/a/") {
            expected.push(kv);
        }
    }
    let events = next_events(&mut stream, expected.len()).await;
    let got: Vec<KeyValue> = events.into_iter().map(|event| event.kv).collect();
    assert_eq!(got, expected);
}
