//! Limits, damage and restarts: what a backend must refuse, report, and keep.

use bytes::Bytes;
use prepull_storage::{EventType, ListOptions, MAX_VALUE_BYTES, StorageError};

use super::support::{bytes, expect_err, next_event, next_events, next_item, watch};
use crate::conformance::Backend;

pub async fn oversized_values_are_rejected_and_nothing_is_written(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/oversized/a";
    let too_big = Bytes::from(vec![b'x'; MAX_VALUE_BYTES + 1]);
    let revision = store.current_revision().await.unwrap();
    let assert_too_large = |err: StorageError| match err {
        StorageError::ValueTooLarge {
            key: k,
            size,
            limit,
        } => {
            assert_eq!(k, key);
            assert_eq!(size, MAX_VALUE_BYTES + 1);
            assert_eq!(limit, MAX_VALUE_BYTES);
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    };
    assert_too_large(expect_err(
        store.create(key, too_big.clone()).await,
        "oversized create",
    ));
    assert!(matches!(
        store.get(key).await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(store.current_revision().await.unwrap(), revision);

    let small = store.create(key, bytes("small")).await.unwrap();
    assert_too_large(expect_err(
        store.update(key, too_big, small.mod_revision).await,
        "oversized update",
    ));
    assert_eq!(store.get(key).await.unwrap(), small);
    assert_eq!(store.current_revision().await.unwrap(), small.mod_revision);

    // A value of exactly the limit is fine.
    let large = Bytes::from(vec![b'y'; MAX_VALUE_BYTES]);
    let written = store
        .update(key, large.clone(), small.mod_revision)
        .await
        .unwrap();
    assert_eq!(store.get(key).await.unwrap(), written);
    assert_eq!(written.value, large);
}

pub async fn corrupt_stored_bytes_are_a_typed_error(backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/corrupt/";
    let start = store.current_revision().await.unwrap();
    let mut stream = watch(&store, prefix, start).await;
    let good = store.create("/c/corrupt/a", bytes("good")).await.unwrap();
    backend
        .write_raw("/c/corrupt/b", b"{\"not\":\"sealed\"}")
        .await;

    let is_corrupt_b = |err: &StorageError| matches!(err, StorageError::Corrupt { key, .. } if key == "/c/corrupt/b");
    let err = expect_err(store.get("/c/corrupt/b").await, "get of a corrupt key");
    assert!(is_corrupt_b(&err), "{err:?}");
    assert_eq!(store.get("/c/corrupt/a").await.unwrap(), good);
    let err = expect_err(
        store.list(prefix, &ListOptions::default()).await,
        "list over a corrupt key",
    );
    assert!(is_corrupt_b(&err), "{err:?}");

    // The watch reports the damage as an error and ends; it does not panic or skip it.
    assert_eq!(next_event(&mut stream).await.kv, good);
    match next_item(&mut stream).await {
        Some(Err(err)) => assert!(is_corrupt_b(&err), "{err:?}"),
        other => panic!("expected a Corrupt error from the watch, got {other:?}"),
    }
    assert!(
        next_item(&mut stream).await.is_none(),
        "a watch ends after an error"
    );

    // An operator can remove the damaged key; then everything reads again.
    let deleted = store.delete("/c/corrupt/b", None).await.unwrap();
    assert_eq!(deleted.key, "/c/corrupt/b");
    assert!(matches!(
        store.get("/c/corrupt/b").await,
        Err(StorageError::NotFound { .. })
    ));
    let page = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(page.items, vec![good]);
}

pub async fn restart_loses_nothing(mut backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/restart/";
    let start = store.current_revision().await.unwrap();
    let a1 = store.create("/c/restart/a", bytes("a1")).await.unwrap();
    let b = store.create("/c/restart/b", bytes("b")).await.unwrap();
    let a2 = store
        .update("/c/restart/a", bytes("a2"), a1.mod_revision)
        .await
        .unwrap();
    store.delete("/c/restart/b", None).await.unwrap();
    let c = store.create("/c/restart/c", bytes("c")).await.unwrap();
    let last = store.current_revision().await.unwrap();
    drop(store);

    if !backend.restart().await {
        return;
    }
    let store = backend.store();
    assert_eq!(store.current_revision().await.unwrap(), last);
    assert_eq!(store.get("/c/restart/a").await.unwrap(), a2);
    assert_eq!(store.get("/c/restart/c").await.unwrap(), c);
    assert!(matches!(
        store.get("/c/restart/b").await,
        Err(StorageError::NotFound { .. })
    ));
    let latest = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(latest.items, vec![a2.clone(), c.clone()]);
    assert_eq!(latest.revision, last);
    let old = store
        .list(
            prefix,
            &ListOptions {
                revision: Some(b.mod_revision),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(old.items, vec![a1.clone(), b]);

    // Revisions keep growing, and a watch from before the restart replays the history.
    let d = store.create("/c/restart/d", bytes("d")).await.unwrap();
    assert!(d.mod_revision > last);
    let mut stream = watch(&store, prefix, start).await;
    let events = next_events(&mut stream, 6).await;
    let summary: Vec<(EventType, &str)> = events
        .iter()
        .map(|event| (event.event_type, event.kv.key.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (EventType::Created, "/c/restart/a"),
            (EventType::Created, "/c/restart/b"),
            (EventType::Updated, "/c/restart/a"),
            (EventType::Deleted, "/c/restart/b"),
            (EventType::Created, "/c/restart/c"),
            (EventType::Created, "/c/restart/d"),
        ]
    );
    assert_eq!(events[2].prev.as_ref(), Some(&a1));
    assert_eq!(events[5].kv, d);
}
