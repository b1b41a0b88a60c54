//! Creates, reads, compare-and-swap updates and deletes, alone and racing.

use std::convert::Infallible;
use std::sync::Arc;

use prepull_storage::{GuaranteedUpdateError, KeyValue, Storage, StorageError, guaranteed_update};

use super::support::{bytes, expect_err};
use crate::conformance::Backend;

pub async fn create_then_get_round_trips(backend: impl Backend) {
    let store = backend.store();
    let before = store.current_revision().await.unwrap();
    let created = store
        .create("/c/round-trip/ns/a", bytes("{\"a\":1}"))
        .await
        .unwrap();
    assert_eq!(created.key, "/c/round-trip/ns/a");
    assert_eq!(created.value, bytes("{\"a\":1}"));
    assert!(created.mod_revision > before);
    assert_eq!(created.create_revision, created.mod_revision);
    assert_eq!(store.get("/c/round-trip/ns/a").await.unwrap(), created);

    // Empty and binary values survive too.
    let empty = store
        .create("/c/round-trip/ns/empty", bytes(""))
        .await
        .unwrap();
    assert_eq!(store.get("/c/round-trip/ns/empty").await.unwrap(), empty);
    let binary: Vec<u8> = (0..=255).collect();
    let binary = store
        .create("/c/round-trip/ns/binary", binary.into())
        .await
        .unwrap();
    assert_eq!(store.get("/c/round-trip/ns/binary").await.unwrap(), binary);
    assert_eq!(store.current_revision().await.unwrap(), binary.mod_revision);
}

pub async fn create_of_an_existing_key_is_already_exists(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/exists/a";
    let first = store.create(key, bytes("first")).await.unwrap();
    let revision = store.current_revision().await.unwrap();
    let err = expect_err(store.create(key, bytes("second")).await, "second create");
    assert!(
        matches!(&err, StorageError::AlreadyExists { key: k } if k == key),
        "{err:?}"
    );
    assert_eq!(
        store.get(key).await.unwrap(),
        first,
        "the refused create changed nothing"
    );
    assert_eq!(store.current_revision().await.unwrap(), revision);

    // Once deleted, the key can be created again, as a new object.
    store.delete(key, None).await.unwrap();
    let again = store.create(key, bytes("third")).await.unwrap();
    assert!(again.create_revision > first.mod_revision);
    assert_eq!(again.create_revision, again.mod_revision);
}

pub async fn get_of_a_missing_key_is_not_found(backend: impl Backend) {
    let store = backend.store();
    let err = expect_err(store.get("/c/missing/a").await, "get of a missing key");
    assert!(
        matches!(&err, StorageError::NotFound { key } if key == "/c/missing/a"),
        "{err:?}"
    );
    store.create("/c/missing/b", bytes("b")).await.unwrap();
    store.delete("/c/missing/b", None).await.unwrap();
    let err = expect_err(store.get("/c/missing/b").await, "get of a deleted key");
    assert!(
        matches!(&err, StorageError::NotFound { key } if key == "/c/missing/b"),
        "{err:?}"
    );
    // A key is not found through its prefix or an extension of it.
    store
        .create("/c/missing/long-name", bytes("x"))
        .await
        .unwrap();
    assert!(matches!(
        store.get("/c/missing/long").await,
        Err(StorageError::NotFound { .. })
    ));
}

pub async fn update_with_a_stale_revision_is_a_conflict_carrying_the_winner(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/cas/a";
    let first = store.create(key, bytes("v1")).await.unwrap();
    let second = store
        .update(key, bytes("v2"), first.mod_revision)
        .await
        .unwrap();
    assert!(second.mod_revision > first.mod_revision);
    assert_eq!(second.create_revision, first.create_revision);
    assert_eq!(second.value, bytes("v2"));
    assert_eq!(store.get(key).await.unwrap(), second);

    let revision = store.current_revision().await.unwrap();
    let err = expect_err(
        store.update(key, bytes("v3"), first.mod_revision).await,
        "update with a stale revision",
    );
    match err {
        StorageError::Conflict {
            key: k,
            expected,
            current,
        } => {
            assert_eq!(k, key);
            assert_eq!(expected, first.mod_revision);
            if let Some(current) = current {
                assert_eq!(*current, second, "the conflict carries the winning write");
            }
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(key).await.unwrap(),
        second,
        "the loser wrote nothing"
    );
    assert_eq!(store.current_revision().await.unwrap(), revision);
}

pub async fn update_never_creates(backend: impl Backend) {
    let store = backend.store();
    for expected in [0, 1, 1000] {
        let err = expect_err(
            store.update("/c/no-create/a", bytes("v"), expected).await,
            "update of a missing key",
        );
        assert!(
            matches!(&err, StorageError::NotFound { key } if key == "/c/no-create/a"),
            "{err:?}"
        );
    }
    assert!(matches!(
        store.get("/c/no-create/a").await,
        Err(StorageError::NotFound { .. })
    ));

    let gone = store.create("/c/no-create/b", bytes("v")).await.unwrap();
    store.delete("/c/no-create/b", None).await.unwrap();
    let err = expect_err(
        store
            .update("/c/no-create/b", bytes("v2"), gone.mod_revision)
            .await,
        "update of a deleted key",
    );
    assert!(matches!(err, StorageError::NotFound { .. }), "{err:?}");
    assert!(matches!(
        store.get("/c/no-create/b").await,
        Err(StorageError::NotFound { .. })
    ));
}

pub async fn concurrent_creates_of_one_key_have_exactly_one_winner(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/create-race/a";
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(key, bytes(&format!("racer {i}"))).await })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(kv) => winners.push(kv),
            Err(StorageError::AlreadyExists { key: k }) => assert_eq!(k, key),
            Err(other) => panic!("a losing create must be AlreadyExists, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    assert_eq!(store.get(key).await.unwrap(), winners[0]);
}

pub async fn concurrent_guaranteed_updates_lose_nothing(backend: impl Backend) {
    const TASKS: usize = 16;
    const INCREMENTS: usize = 20;
    let store = backend.store();
    let key = "/c/counter/a";
    store.create(key, bytes("0")).await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for _ in 0..INCREMENTS {
                    revisions.push(increment(&store, key).await.mod_revision);
                }
                revisions
            })
        })
        .collect();
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.extend(task.await.unwrap());
    }
    let last = store.get(key).await.unwrap();
    assert_eq!(last.value, bytes(&(TASKS * INCREMENTS).to_string()));
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(
        revisions.len(),
        TASKS * INCREMENTS,
        "every increment got its own revision"
    );
    assert_eq!(revisions.last(), Some(&last.mod_revision));
}

/// Adds one to the counter in `key`. Under heavy contention a guaranteed update may exhaust
/// its attempts; that is a retry-later conflict, so the case retries it (boundedly).
async fn increment(store: &Arc<dyn Storage>, key: &str) -> KeyValue {
    for _ in 0..100 {
        let result = guaranteed_update(&**store, key, None, |kv| {
            let count: u64 = std::str::from_utf8(&kv.value)
                .expect("utf-8 counter")
                .parse()
                .expect("numeric counter");
            Ok::<_, Infallible>(Some(bytes(&(count + 1).to_string())))
        })
        .await;
        match result {
            Ok(kv) => return kv,
            Err(GuaranteedUpdateError::Storage(StorageError::Conflict { .. })) => continue,
            Err(other) => panic!("increment failed: {other:?}"),
        }
    }
    panic!("increment kept conflicting");
}

pub async fn delete_with_a_stale_precondition_is_a_conflict(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/delete-cas/a";
    let first = store.create(key, bytes("v1")).await.unwrap();
    let second = store
        .update(key, bytes("v2"), first.mod_revision)
        .await
        .unwrap();
    let err = expect_err(
        store.delete(key, Some(first.mod_revision)).await,
        "delete with a stale precondition",
    );
    match err {
        StorageError::Conflict {
            key: k,
            expected,
            current,
        } => {
            assert_eq!(k, key);
            assert_eq!(expected, first.mod_revision);
            if let Some(current) = current {
                assert_eq!(*current, second);
            }
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get(key).await.unwrap(), second, "nothing was deleted");

    let deleted = store.delete(key, Some(second.mod_revision)).await.unwrap();
    assert!(deleted.mod_revision > second.mod_revision);
    for expected in [None, Some(deleted.mod_revision)] {
        let err = expect_err(store.delete(key, expected).await, "delete of a missing key");
        assert!(
            matches!(&err, StorageError::NotFound { key: k } if k == key),
            "{err:?}"
        );
    }
}

pub async fn delete_returns_the_last_value_at_the_delete_revision(backend: impl Backend) {
    let store = backend.store();
    let key = "/c/delete/a";
    let first = store.create(key, bytes("v1")).await.unwrap();
    let second = store
        .update(key, bytes("v2"), first.mod_revision)
        .await
        .unwrap();
    let deleted = store.delete(key, None).await.unwrap();
    assert_eq!(deleted.key, key);
    assert_eq!(
        deleted.value,
        bytes("v2"),
        "the last value before the delete"
    );
    assert_eq!(deleted.create_revision, first.create_revision);
    assert!(deleted.mod_revision > second.mod_revision);
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted.mod_revision
    );
    assert!(matches!(
        store.get(key).await,
        Err(StorageError::NotFound { .. })
    ));
}

pub async fn revisions_grow_with_every_write(backend: impl Backend) {
    let store = backend.store();
    let mut last = store.current_revision().await.unwrap();
    let mut check = |written: KeyValue| {
        assert!(
            written.mod_revision > last,
            "revision {} after {last}",
            written.mod_revision
        );
        last = written.mod_revision;
        written
    };
    let a = check(store.create("/c/revisions/a", bytes("a")).await.unwrap());
    let b = check(store.create("/c/revisions/b", bytes("b")).await.unwrap());
    let a = check(
        store
            .update("/c/revisions/a", bytes("a2"), a.mod_revision)
            .await
            .unwrap(),
    );
    check(
        store
            .delete("/c/revisions/b", Some(b.mod_revision))
            .await
            .unwrap(),
    );
    check(store.create("/c/revisions/b", bytes("b2")).await.unwrap());
    assert_eq!(store.current_revision().await.unwrap(), last);

    // Reads and refused writes do not move the revision.
    store.get("/c/revisions/a").await.unwrap();
    let _ = store.create("/c/revisions/a", bytes("dup")).await;
    let _ = store
        .update("/c/revisions/a", bytes("stale"), a.mod_revision - 1)
        .await;
    let _ = store.delete("/c/revisions/missing", None).await;
    assert_eq!(store.current_revision().await.unwrap(), last);
}
