//! Lists: prefixes, order, paging at one revision, reads at a revision, bad tokens.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use prepull_storage::{KeyValue, ListOptions, StorageError};

use super::support::{bytes, expect_err, list_all, write_mix};
use crate::conformance::Backend;

pub async fn list_returns_keys_under_the_prefix_in_order(backend: impl Backend) {
    let store = backend.store();
    let mut expected = BTreeMap::new();
    for name in ["b", "ns1/a", "a", "ns2/z", "c"] {
        let key = format!("/c/list/items/{name}");
        let kv = store.create(&key, bytes(name)).await.unwrap();
        expected.insert(key, kv);
    }
    // Neighbours that share a string prefix but are outside the listed one.
    for key in [
        "/c/list/items",
        "/c/list/itemsx/a",
        "/c/list/other/a",
        "/c/list/a",
    ] {
        store.create(key, bytes("outside")).await.unwrap();
    }
    store
        .create("/c/list/items/deleted", bytes("gone"))
        .await
        .unwrap();
    store.delete("/c/list/items/deleted", None).await.unwrap();
    let expected: Vec<KeyValue> = expected.into_values().collect();
    let current = store.current_revision().await.unwrap();

    for limit in [None, Some(0), Some(5), Some(100)] {
        let page = store
            .list(
                "/c/list/items/",
                &ListOptions {
                    limit,
                    ..ListOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items, expected, "limit {limit:?}");
        assert_eq!(page.revision, current);
        assert_eq!(
            page.continue_token, None,
            "nothing remains with limit {limit:?}"
        );
        assert!(matches!(page.remaining, None | Some(0)));
    }

    // Pages of two: a, b | c, ns1/a | ns2/z.
    let first = store
        .list(
            "/c/list/items/",
            &ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items, expected[..2]);
    assert_eq!(first.revision, current);
    assert!(first.continue_token.is_some());
    if let Some(remaining) = first.remaining {
        assert_eq!(remaining, 3);
    }
    let (all, revision) = list_all(&store, "/c/list/items/", 2, None).await;
    assert_eq!(all, expected);
    assert_eq!(revision, current);

    let empty = store
        .list("/c/list/nothing/", &ListOptions::default())
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.revision, current);
    assert_eq!(empty.continue_token, None);
}

pub async fn list_pages_stay_at_the_first_page_revision_under_concurrent_writes(
    backend: impl Backend,
) {
    const WRITES: usize = 90;
    const LIMIT: u64 = 6;
    let store = backend.store();
    let prefix = "/c/paging/";
    let mut state = BTreeMap::new();
    for i in 0..40 {
        let key = format!("{prefix}k{:02}", i * 2);
        let kv = store.create(&key, bytes("initial")).await.unwrap();
        state.insert(key, kv);
    }
    let (progress, mut writes_done) = tokio::sync::watch::channel(0);
    let writer = tokio::spawn(write_mix(
        store.clone(),
        prefix.to_string(),
        state.clone(),
        WRITES,
        Some(progress),
    ));

    let first = store
        .list(
            prefix,
            &ListOptions {
                limit: Some(LIMIT),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let revision = first.revision;
    let mut items = first.items;
    let mut token = first.continue_token;
    let mut pages = 1;
    while let Some(next) = token {
        // Let the writer get ahead between pages so the pages really race writes.
        let target = (pages * 12).min(WRITES);
        tokio::time::timeout(
            super::support::WAIT,
            writes_done.wait_for(|done| *done >= target),
        )
        .await
        .expect("the writer made no progress")
        .expect("the writer is running");
        let page = store
            .list(
                prefix,
                &ListOptions {
                    limit: Some(LIMIT),
                    continue_token: Some(next),
                    ..ListOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.revision, revision,
            "page {pages} moved to another revision"
        );
        assert!(page.items.len() as u64 <= LIMIT);
        items.extend(page.items);
        token = page.continue_token;
        pages += 1;
    }
    let log = writer.await.unwrap();
    assert!(
        log.iter().any(|write| write.revision > revision),
        "some writes landed after the first page"
    );

    // The state at `revision`: the initial keys and every logged write at or before it.
    for write in log.iter().filter(|write| write.revision <= revision) {
        match &write.after {
            Some(kv) => state.insert(write.key.clone(), kv.clone()),
            None => state.remove(&write.key),
        };
    }
    let expected: Vec<KeyValue> = state.into_values().collect();
    assert_eq!(items.len(), expected.len());
    assert_eq!(
        items, expected,
        "the pages together are exactly the state at {revision}"
    );
}

pub async fn list_at_an_old_revision_sees_the_old_state(backend: impl Backend) {
    let store = backend.store();
    let prefix = "/c/old-list/";
    let a1 = store.create("/c/old-list/a", bytes("a1")).await.unwrap();
    let b = store.create("/c/old-list/b", bytes("b")).await.unwrap();
    let a2 = store
        .update("/c/old-list/a", bytes("a2"), a1.mod_revision)
        .await
        .unwrap();
    store.delete("/c/old-list/b", None).await.unwrap();
    let c = store.create("/c/old-list/c", bytes("c")).await.unwrap();

    let at = |revision| ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    };
    let page = store.list(prefix, &at(b.mod_revision)).await.unwrap();
    assert_eq!(page.items, vec![a1.clone(), b.clone()]);
    assert_eq!(page.revision, b.mod_revision);
    assert_eq!(page.continue_token, None);

    let page = store.list(prefix, &at(a1.mod_revision)).await.unwrap();
    assert_eq!(page.items, vec![a1.clone()]);
    assert_eq!(page.revision, a1.mod_revision);

    let (paged, revision) = list_all(&store, prefix, 1, Some(b.mod_revision)).await;
    assert_eq!(paged, vec![a1, b.clone()]);
    assert_eq!(revision, b.mod_revision);

    let latest = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(latest.items, vec![a2, c.clone()]);
    assert_eq!(latest.revision, c.mod_revision);
}

pub async fn list_at_a_future_revision_is_too_large(backend: impl Backend) {
    let store = backend.store();
    store.create("/c/future/a", bytes("a")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let err = expect_err(
        store
            .list(
                "/c/future/",
                &ListOptions {
                    revision: Some(current + 10),
                    ..ListOptions::default()
                },
            )
            .await,
        "list at a future revision",
    );
    match err {
        StorageError::RevisionTooLarge {
            requested,
            current: reported,
        } => {
            assert_eq!(requested, current + 10);
            assert_eq!(reported, current);
        }
        other => panic!("expected RevisionTooLarge, got {other:?}"),
    }
    // The current revision itself is fine.
    let page = store
        .list(
            "/c/future/",
            &ListOptions {
                revision: Some(current),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

pub async fn a_malformed_continue_token_is_rejected(backend: impl Backend) {
    let store = backend.store();
    store.create("/c/bad-token/a", bytes("a")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let forged = |json: String| URL_SAFE.encode(json.as_bytes());
    let tokens = [
        "not a token!!".to_string(),
        forged("{}".to_string()),
        forged(format!(r#"{{"v":"other/v9","rv":{current},"start":"a"}}"#)),
        forged(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#.to_string()),
        forged(format!(
            r#"{{"v":"meta.k8s.io/v1","rv":{current},"start":"../secrets/x"}}"#
        )),
    ];
    for token in tokens {
        let err = expect_err(
            store
                .list(
                    "/c/bad-token/",
                    &ListOptions {
                        limit: Some(1),
                        continue_token: Some(token.clone()),
                        ..ListOptions::default()
                    },
                )
                .await,
            "list with a malformed token",
        );
        assert!(
            matches!(err, StorageError::InvalidContinue { .. }),
            "token {token:?}: {err:?}"
        );
    }
}
