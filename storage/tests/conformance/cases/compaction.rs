//! What compaction takes away (`Expired`) and what it must keep.

use prepull_storage::{EventType, KeyValue, ListOptions, WatchEvent};

use super::support::{assert_expired, bytes, expect_err, next_event, watch, watch_error};
use crate::conformance::Backend;

pub async fn watch_from_a_compacted_revision_is_expired(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/compacted-watch/a";
    let mut a = store.create(key, bytes("0")).await.unwrap();
    let first = a.mod_revision;
    for i in 1..=3 {
        a = store
            .update(key, bytes(&i.to_string()), a.mod_revision)
            .await
            .unwrap();
    }
    let compact_at = a.mod_revision;
    let b = store
        .create("/c/compacted-watch/b", bytes("b"))
        .await
        .unwrap();
    backend.compact(compact_at).await;

    let oldest = assert_expired(
        watch_error(&store, "/c/compacted-watch/", first).await,
        first,
    );
    assert!(oldest <= store.current_revision().await.unwrap());

    // From the compaction point on, history is whole, previous values included.
    let mut stream = watch(&store, "/c/compacted-watch/", compact_at).await;
    let a_next = store.update(key, bytes("4"), a.mod_revision).await.unwrap();
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent {
            event_type: EventType::Created,
            kv: b,
            prev: None,
        }
    );
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent {
            event_type: EventType::Updated,
            kv: a_next,
            prev: Some(a),
        }
    );
}

pub async fn list_at_a_compacted_revision_is_expired(backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/compacted-list/";
    let a1 = store
        .create("/c/compacted-list/a", bytes("a1"))
        .await
        .unwrap();
    let b = store
        .create("/c/compacted-list/b", bytes("b"))
        .await
        .unwrap();
    let a2 = store
        .update("/c/compacted-list/a", bytes("a2"), a1.mod_revision)
        .await
        .unwrap();
    let b_deleted = store.delete("/c/compacted-list/b", None).await.unwrap();
    backend.compact(a2.mod_revision).await;

    let at = |revision| ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    };
    for old in [a1.mod_revision, b.mod_revision] {
        let err = expect_err(store.list(prefix, &at(old)).await, "list below compaction");
        assert_expired(err, old);
    }
    // The compaction point and later stay readable, exactly.
    let page = store.list(prefix, &at(a2.mod_revision)).await.unwrap();
    assert_eq!(page.items, vec![a2.clone(), b]);
    let page = store
        .list(prefix, &at(b_deleted.mod_revision))
        .await
        .unwrap();
    assert_eq!(page.items, vec![a2.clone()]);
    assert_eq!(store.get("/c/compacted-list/a").await.unwrap(), a2);
}

pub async fn continue_token_past_compaction_is_expired(backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/compacted-continue/";
    let mut kvs: Vec<KeyValue> = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        kvs.push(
            store
                .create(&format!("{prefix}{name}"), bytes(name))
                .await
                .unwrap(),
        );
    }
    let first = store
        .list(
            prefix,
            &ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let token = first.continue_token.expect("more pages");
    let later = store
        .update(&kvs[4].key, bytes("e2"), kvs[4].mod_revision)
        .await
        .unwrap();
    backend.compact(later.mod_revision).await;

    let err = expect_err(
        store
            .list(
                prefix,
                &ListOptions {
                    limit: Some(2),
                    continue_token: Some(token),
                    ..ListOptions::default()
                },
            )
            .await,
        "continue past compaction",
    );
    assert_expired(err, first.revision);
}
