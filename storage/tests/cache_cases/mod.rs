//! Cases for the watch cache's own behaviour (history ring, resume, expiry, consistent-read
//! waiting, paging from memory, progress, readiness), run against a real backend beneath the
//! cache. A test file per backend expands [`cache_suite!`] with its raw
//! [`crate::conformance::Backend`].

#![allow(dead_code)]

mod cached_backend;

pub use cached_backend::Cached;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use prepull_storage::cache::{
    CacheOptions, CacheWatchItem, CacheWatchStream, ReadFreshness, WatchCache,
};
use prepull_storage::{
    EventType, KeyValue, ListOptions, Revision, Storage, StorageError, WatchEvent, WatchStream,
};

use crate::conformance::Backend;

/// The prefixes every case caches.
pub const JOBS: &str = "/apps.kruise.io/imagepulljobs/";
pub const NODES: &str = "/apps.kruise.io/nodeimages/";

/// Bound on any single wait, so a broken cache fails the case instead of hanging it.
const WAIT: Duration = Duration::from_secs(20);

/// A cache over `backend`'s store, already loaded.
pub async fn ready_cache(backend: &impl Backend, options: CacheOptions) -> WatchCache {
    let cache = WatchCache::new(backend.store(), vec![JOBS.into(), NODES.into()], options)
        .expect("a valid configuration");
    assert!(
        cache.wait_until_ready(WAIT).await,
        "the cache did not become ready"
    );
    cache
}

fn job(name: &str) -> String {
    format!("{JOBS}default/{name}")
}

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn names(items: &[KeyValue]) -> Vec<&str> {
    items
        .iter()
        .map(|kv| kv.key.rsplit('/').next().unwrap_or_default())
        .collect()
}

async fn next(stream: &mut CacheWatchStream) -> Result<CacheWatchItem, StorageError> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch produced nothing within the deadline")
        .expect("the watch ended")
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch produced nothing within the deadline")
        .expect("the watch ended")
        .expect("the watch failed")
}

fn summary(event: &WatchEvent) -> (EventType, String, String, Revision) {
    (
        event.event_type,
        event.kv.key.clone(),
        String::from_utf8_lossy(&event.kv.value).into_owned(),
        event.kv.mod_revision,
    )
}

pub async fn a_list_right_after_a_create_is_served_from_memory_and_sees_it<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    for i in 0..20 {
        let created = cache
            .create(&job(&format!("j{i:02}")), value("v"))
            .await
            .unwrap();
        let page = cache.list(JOBS, &ListOptions::default()).await.unwrap();
        assert_eq!(page.items.len(), i + 1, "the list missed the create");
        assert!(page.revision >= created.mod_revision);
        assert_eq!(cache.get(&created.key).await.unwrap(), created);
    }
    let stats = cache.stats();
    assert_eq!(stats.fallback_reads, 0, "{stats:?}");
    assert_eq!(stats.memory_reads, 40, "{stats:?}");
    assert_eq!(stats.objects, 20);
    assert_eq!(stats.payload_bytes, 20);
}

pub async fn a_watch_replays_history_from_a_revision_then_follows_live_changes<B: Backend>(
    backend: B,
) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let a1 = cache.create(&job("a"), value("a1")).await.unwrap();
    let a2 = cache
        .update(&job("a"), value("a2"), a1.mod_revision)
        .await
        .unwrap();
    let b1 = cache.create(&job("b"), value("b1")).await.unwrap();

    let mut watch = cache.watch(JOBS, a1.mod_revision).await.unwrap();
    let replayed = next_event(&mut watch).await;
    assert_eq!(
        summary(&replayed),
        (EventType::Updated, job("a"), "a2".into(), a2.mod_revision)
    );
    assert_eq!(replayed.prev.as_ref(), Some(&a1));
    assert_eq!(
        summary(&next_event(&mut watch).await),
        (EventType::Created, job("b"), "b1".into(), b1.mod_revision)
    );

    let gone = cache.delete(&job("a"), None).await.unwrap();
    let live = next_event(&mut watch).await;
    assert_eq!(
        summary(&live),
        (EventType::Deleted, job("a"), "a2".into(), gone.mod_revision)
    );
    assert_eq!(live.prev.as_ref(), Some(&a2));
}

pub async fn a_watch_on_a_narrower_prefix_sees_only_its_keys<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let from = cache.current_revision().await.unwrap();
    let mut watch = cache.watch(&format!("{JOBS}ns1/"), from).await.unwrap();
    cache
        .create(&format!("{JOBS}ns1/a"), value("x"))
        .await
        .unwrap();
    cache
        .create(&format!("{JOBS}ns10/b"), value("x"))
        .await
        .unwrap();
    cache
        .create(&format!("{NODES}ns1/c"), value("x"))
        .await
        .unwrap();
    let last = cache
        .create(&format!("{JOBS}ns1/d"), value("x"))
        .await
        .unwrap();
    assert_eq!(next_event(&mut watch).await.kv.key, format!("{JOBS}ns1/a"));
    let second = next_event(&mut watch).await;
    assert_eq!(second.kv.key, format!("{JOBS}ns1/d"));
    assert_eq!(second.kv.mod_revision, last.mod_revision);
}

pub async fn a_watch_from_before_the_history_ring_is_expired_when_old_watches_stay_off_the_backend<
    B: Backend,
>(
    backend: B,
) {
    let options = CacheOptions {
        history_capacity: 3,
        old_watches_to_backend: false,
        ..CacheOptions::default()
    };
    let cache = ready_cache(&backend, options).await;
    let mut revisions = Vec::new();
    for i in 0..5 {
        let kv = cache
            .create(&job(&format!("k{i}")), value("v"))
            .await
            .unwrap();
        revisions.push(kv.mod_revision);
    }
    assert!(cache.wait_for_revision(revisions[4], WAIT).await);

    match cache.watch(JOBS, revisions[0]).await {
        Err(StorageError::Expired { requested, oldest }) => {
            assert_eq!(requested, revisions[0]);
            assert_eq!(oldest, revisions[1]);
        }
        other => panic!("expected Expired, got {:?}", other.map(|_| "a stream")),
    }
    let mut watch = cache.watch(JOBS, revisions[1]).await.unwrap();
    for expected in &revisions[2..] {
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, *expected);
    }
}

pub async fn a_watch_from_before_the_history_ring_is_replayed_by_the_backend<B: Backend>(
    backend: B,
) {
    let options = CacheOptions {
        history_capacity: 2,
        ..CacheOptions::default()
    };
    let cache = ready_cache(&backend, options).await;
    let mut written = Vec::new();
    for i in 0..4 {
        written.push(
            cache
                .create(&job(&format!("k{i}")), value("v"))
                .await
                .unwrap(),
        );
    }
    assert!(cache.wait_for_revision(written[3].mod_revision, WAIT).await);
    let mut watch = cache.watch(JOBS, written[0].mod_revision).await.unwrap();
    for expected in &written[1..] {
        assert_eq!(&next_event(&mut watch).await.kv, expected);
    }
    // The backend's watch goes on live.
    let live = cache.create(&job("live"), value("v")).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv, live);
}

pub async fn a_watcher_that_falls_behind_the_ring_ends_with_expired<B: Backend>(backend: B) {
    let options = CacheOptions {
        history_capacity: 4,
        ..CacheOptions::default()
    };
    let cache = ready_cache(&backend, options).await;
    let from = cache.current_revision().await.unwrap();
    let mut slow = cache.watch_with_progress(JOBS, from, None).await.unwrap();
    let mut last = 0;
    for i in 0..10 {
        last = cache
            .create(&job(&format!("k{i}")), value("v"))
            .await
            .unwrap()
            .mod_revision;
    }
    assert!(cache.wait_for_revision(last, WAIT).await);
    match next(&mut slow).await {
        Err(StorageError::Expired { requested, .. }) => assert_eq!(requested, from),
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(
        slow.next().await.is_none(),
        "the watch ends after the error"
    );
}

pub async fn pages_served_from_memory_stay_at_the_first_page_revision<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let mut written = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f"] {
        written.push(cache.create(&job(name), value(name)).await.unwrap());
    }
    let first = cache
        .list(
            JOBS,
            &ListOptions {
                limit: Some(2),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&first.items), ["a", "b"]);
    assert_eq!(first.remaining, Some(4));

    cache
        .update(&job("c"), value("changed"), written[2].mod_revision)
        .await
        .unwrap();
    cache.delete(&job("e"), None).await.unwrap();
    cache.create(&job("bb"), value("new")).await.unwrap();

    let mut items = first.items.clone();
    let mut token = first.continue_token.clone();
    while let Some(next) = token {
        let page = cache
            .list(
                JOBS,
                &ListOptions {
                    limit: Some(2),
                    continue_token: Some(next),
                    revision: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.revision, first.revision);
        items.extend(page.items);
        token = page.continue_token;
    }
    assert_eq!(items, written, "later pages show the first page's revision");
    assert_eq!(cache.stats().fallback_reads, 0);
}

pub async fn a_list_at_a_revision_before_the_history_is_answered_by_the_backend<B: Backend>(
    backend: B,
) {
    let options = CacheOptions {
        history_capacity: 2,
        ..CacheOptions::default()
    };
    let cache = ready_cache(&backend, options).await;
    let mut written = Vec::new();
    for name in ["a", "b", "c", "d"] {
        written.push(cache.create(&job(name), value(name)).await.unwrap());
    }
    assert!(cache.wait_for_revision(written[3].mod_revision, WAIT).await);
    let at = |revision| ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    };

    let old = cache
        .list(JOBS, &at(written[0].mod_revision))
        .await
        .unwrap();
    assert_eq!(names(&old.items), ["a"]);
    assert_eq!(old.revision, written[0].mod_revision);
    assert_eq!(cache.stats().fallback_reads, 1);

    let recent = cache
        .list(JOBS, &at(written[2].mod_revision))
        .await
        .unwrap();
    assert_eq!(names(&recent.items), ["a", "b", "c"]);
    assert_eq!(recent.revision, written[2].mod_revision);
    let stats = cache.stats();
    assert_eq!(
        (stats.fallback_reads, stats.memory_reads),
        (1, 1),
        "{stats:?}"
    );
}

pub async fn progress_reports_arrive_while_the_watched_prefix_is_quiet<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let from = cache.current_revision().await.unwrap();
    let mut watch = cache
        .watch_with_progress(JOBS, from, Some(Duration::from_millis(50)))
        .await
        .unwrap();
    let elsewhere = cache
        .create(&format!("{NODES}node-1"), value("n"))
        .await
        .unwrap();
    loop {
        match next(&mut watch).await {
            Ok(CacheWatchItem::Progress(revision)) if revision >= elsewhere.mod_revision => break,
            Ok(CacheWatchItem::Progress(revision)) => assert!(revision >= from),
            other => panic!("expected only progress, got {other:?}"),
        }
    }
    // Progress never runs ahead of an event: a change made now comes after the report.
    let mine = cache.create(&job("j"), value("v")).await.unwrap();
    loop {
        match next(&mut watch).await {
            Ok(CacheWatchItem::Event(event)) => {
                assert_eq!(event.kv, mine);
                break;
            }
            Ok(CacheWatchItem::Progress(revision)) => assert!(revision < mine.mod_revision),
            Err(err) => panic!("the watch failed: {err:?}"),
        }
    }
}

pub async fn a_read_not_older_than_a_future_revision_is_too_large<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let written = cache.create(&job("a"), value("a")).await.unwrap();
    let future = written.mod_revision + 100;
    let err = cache
        .list_with(
            JOBS,
            &ListOptions::default(),
            ReadFreshness::NotOlderThan(future),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::RevisionTooLarge { requested, .. } if requested == future),
        "{err:?}"
    );
    let page = cache
        .list_with(
            JOBS,
            &ListOptions::default(),
            ReadFreshness::NotOlderThan(written.mod_revision),
        )
        .await
        .unwrap();
    assert_eq!(names(&page.items), ["a"]);
    let any = cache
        .get_with(&written.key, ReadFreshness::Any)
        .await
        .unwrap();
    assert_eq!(any.value, written.value);
}

pub async fn keys_outside_the_cached_prefixes_go_to_the_backend<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let other = cache.create("/other/x", value("x")).await.unwrap();
    assert_eq!(cache.get("/other/x").await.unwrap(), other);
    let page = cache
        .list("/other/", &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(page.items, vec![other]);
    let stats = cache.stats();
    assert_eq!((stats.memory_reads, stats.fallback_reads), (0, 0));
    assert_eq!(stats.objects, 0, "nothing outside the prefixes is cached");
}

pub async fn dropping_the_cache_ends_its_watches<B: Backend>(backend: B) {
    let cache = ready_cache(&backend, CacheOptions::default()).await;
    let from = cache.current_revision().await.unwrap();
    let mut watch = cache.watch_with_progress(JOBS, from, None).await.unwrap();
    drop(cache);
    assert!(matches!(
        next(&mut watch).await,
        Err(StorageError::Unavailable { .. })
    ));
}

pub async fn a_cache_started_on_existing_data_loads_it_in_pages<B: Backend>(backend: B) {
    let store: Arc<dyn Storage> = backend.store();
    for i in 0..25 {
        store
            .create(&job(&format!("k{i:02}")), value("v"))
            .await
            .unwrap();
    }
    let options = CacheOptions {
        list_page_size: 7,
        ..CacheOptions::default()
    };
    let cache = ready_cache(&backend, options).await;
    assert_eq!(cache.stats().objects, 25);
    let page = cache
        .list_with(JOBS, &ListOptions::default(), ReadFreshness::Any)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 25);
    assert_eq!(cache.stats().fallback_reads, 0);
}

/// Expands to one `#[tokio::test]` per cache case, with the raw backend type `$backend`
/// beneath the cache.
#[macro_export]
macro_rules! cache_suite {
    ($backend:ty) => {
        $crate::cache_suite!(@cases $backend;
            a_list_right_after_a_create_is_served_from_memory_and_sees_it,
            a_watch_replays_history_from_a_revision_then_follows_live_changes,
            a_watch_on_a_narrower_prefix_sees_only_its_keys,
            a_watch_from_before_the_history_ring_is_expired_when_old_watches_stay_off_the_backend,
            a_watch_from_before_the_history_ring_is_replayed_by_the_backend,
            a_watcher_that_falls_behind_the_ring_ends_with_expired,
            pages_served_from_memory_stay_at_the_first_page_revision,
            a_list_at_a_revision_before_the_history_is_answered_by_the_backend,
            progress_reports_arrive_while_the_watched_prefix_is_quiet,
            a_read_not_older_than_a_future_revision_is_too_large,
            keys_outside_the_cached_prefixes_go_to_the_backend,
            dropping_the_cache_ends_its_watches,
            a_cache_started_on_existing_data_loads_it_in_pages,
        );
    };
    (@cases $backend:ty; $($case:ident),* $(,)?) => {
        mod cache_cases_run {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = <$backend as $crate::conformance::Backend>::new().await;
                    $crate::cache_cases::$case(backend).await;
                }
            )*
        }
    };
}
