//! The watch cache on a real etcd: the storage conformance suite through the cache, the
//! cache's own cases, and its recovery when etcd goes away and comes back. Each case gets its
//! own etcd, so no other writer moves the revision the cache's consistent reads wait for.

mod cache_cases;
mod conformance;
mod etcd_fixture;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prepull_storage::cache::{CacheOptions, ReadFreshness, WatchCache};
use prepull_storage::{ListOptions, Storage};
use tokio::time::Instant;

use cache_cases::Cached;
use etcd_fixture::EtcdFixture;
use etcd_fixture::backend::EtcdBackend;

conformance_suite!(Cached<EtcdBackend>);
cache_suite!(EtcdBackend);

/// Polls `condition` every 20 ms until it holds; fails after `within`.
async fn eventually(within: Duration, what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_stale_reads_while_etcd_is_down_and_catches_up_when_it_returns() {
    let mut fixture = EtcdFixture::start().await;
    let prefix = "/apps.kruise.io/nodeimages/";
    let cache = WatchCache::new(
        Arc::new(fixture.store.clone()),
        vec![prefix.into()],
        CacheOptions::default(),
    )
    .expect("a valid configuration");
    assert!(cache.wait_until_ready(Duration::from_secs(20)).await);
    let before = cache
        .create(&format!("{prefix}a"), Bytes::from_static(b"a"))
        .await
        .unwrap();

    fixture.etcd.stop().await.expect("etcd stops");
    eventually(Duration::from_secs(30), "the cache notices", || {
        !cache.is_ready()
    })
    .await;
    // "Any" freshness comes from memory; a consistent read needs the backend and says so.
    let stale = cache
        .get_with(&before.key, ReadFreshness::Any)
        .await
        .unwrap();
    assert_eq!(stale, before);
    assert!(cache.get(&before.key).await.is_err());

    fixture.etcd.start_again().await.expect("etcd restarts");
    assert!(
        cache.wait_until_ready(Duration::from_secs(30)).await,
        "the cache re-watched after etcd returned"
    );
    let after = cache
        .create(&format!("{prefix}b"), Bytes::from_static(b"b"))
        .await
        .unwrap();
    let page = cache.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(page.items, vec![before, after]);
    assert_eq!(cache.stats().history_events, 2, "no re-list was needed");
}
