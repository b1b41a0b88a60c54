//! The etcd backend's own behaviour, beyond the shared conformance suite: its key layout in
//! etcd, its deadlines when etcd is gone, how etcd's compaction surfaces, writes fenced by
//! a leader key, and a cluster that lost a member.

mod conformance;
mod etcd_fixture;

use std::time::Duration;

use bytes::Bytes;
use etcd_fixture::{EtcdFixture, ROOT, config};
use futures::StreamExt;
use prepull_storage::etcd::{EtcdConfig, EtcdStore, LeaderFence};
use prepull_storage::{EventType, ListOptions, Storage, StorageError, envelope};
use tokio::time::Instant;

/// What the contract allows for "etcd is down": the dial timeout plus a little.
const OUTAGE_DEADLINE: Duration = Duration::from_secs(2);

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_live_under_the_root_prefix_as_sealed_values() {
    let fixture = EtcdFixture::start().await;
    let written = fixture
        .store
        .create("/apps.kruise.io/nodeimages/n1", value("{}"))
        .await
        .unwrap();

    let mut raw = fixture.raw_client().await;
    let found = raw
        .get(format!("{ROOT}/apps.kruise.io/nodeimages/n1"), None)
        .await
        .unwrap();
    let kv = found
        .kvs()
        .first()
        .expect("the key is stored under the root");
    assert_eq!(kv.value(), &envelope::seal(b"{}")[..]);
    assert_eq!(kv.mod_revision() as u64, written.mod_revision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_with_different_roots_do_not_see_each_other() {
    let fixture = EtcdFixture::start().await;
    let other = EtcdStore::connect(config(&fixture.etcd).with_prefix("/registryx"))
        .await
        .unwrap();
    fixture.store.create("/g/p/a", value("1")).await.unwrap();
    other.create("/g/p/b", value("2")).await.unwrap();

    let mine = fixture
        .store
        .list("", &ListOptions::default())
        .await
        .unwrap();
    let theirs = other.list("/", &ListOptions::default()).await.unwrap();
    let keys = |page: &prepull_storage::ListPage| {
        page.items
            .iter()
            .map(|kv| kv.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&mine), ["/g/p/a"]);
    assert_eq!(keys(&theirs), ["/g/p/b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_compare_and_swap_carries_the_winner() {
    let fixture = EtcdFixture::start().await;
    let store = &fixture.store;
    let first = store.create("/g/p/n", value("v1")).await.unwrap();
    let winner = store
        .update("/g/p/n", value("v2"), first.mod_revision)
        .await
        .unwrap();
    assert_eq!(winner.create_revision, first.create_revision);
    assert!(winner.mod_revision > first.mod_revision);

    let error = store
        .update("/g/p/n", value("v3"), first.mod_revision)
        .await
        .unwrap_err();
    let StorageError::Conflict {
        expected, current, ..
    } = error
    else {
        panic!("expected a conflict, got {error}");
    };
    assert_eq!(expected, first.mod_revision);
    assert_eq!(current.as_deref(), Some(&winner));

    let error = store
        .delete("/g/p/n", Some(first.mod_revision))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::Conflict { current: Some(c), .. } if **c == winner),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_expecting_revision_zero_does_not_create() {
    let fixture = EtcdFixture::start().await;
    let error = fixture
        .store
        .update("/g/p/missing", value("x"), 0)
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::NotFound { .. }), "{error}");
    let error = fixture.store.get("/g/p/missing").await.unwrap_err();
    assert!(matches!(error, StorageError::NotFound { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_as_unavailable_within_two_seconds_when_etcd_is_down_and_recover_after() {
    let mut fixture = EtcdFixture::start().await;
    let store = fixture.store.clone();
    store.create("/g/p/n", value("v")).await.unwrap();
    let mut watch = store.watch("/g/p/", 0).await.unwrap();
    let created = watch.next().await.unwrap().unwrap();
    assert_eq!(created.event_type, EventType::Created);

    fixture.etcd.stop().await.unwrap();

    let started = Instant::now();
    let error = store.get("/g/p/n").await.unwrap_err();
    assert!(matches!(error, StorageError::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < OUTAGE_DEADLINE,
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let error = store.create("/g/p/m", value("v")).await.unwrap_err();
    assert!(matches!(error, StorageError::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < OUTAGE_DEADLINE,
        "{:?}",
        started.elapsed()
    );

    let ended = tokio::time::timeout(OUTAGE_DEADLINE, watch.next())
        .await
        .expect("the watch notices the outage");
    assert!(
        matches!(ended, Some(Err(StorageError::Unavailable { .. }))),
        "{ended:?}"
    );

    // The same store handle works again once etcd is back.
    fixture.etcd.start_again().await.unwrap();
    let back = prepull_testbed::assert_eventually(
        "the store to reach the restarted etcd",
        Duration::from_secs(10),
        || store.get("/g/p/n"),
    )
    .await;
    assert_eq!(back.value, value("v"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_of_three_members_down_every_call_is_answered_by_the_others() {
    let mut cluster = prepull_testbed::EtcdCluster::start(3).await.unwrap();
    let endpoints: Vec<String> = cluster.endpoints().split(',').map(str::to_owned).collect();
    let store = EtcdStore::connect(EtcdConfig::new(endpoints).with_prefix(ROOT))
        .await
        .unwrap();
    store.create("/g/p/before", value("v")).await.unwrap();
    // A follower, so that no election is under way: the cluster keeps its quorum and leader,
    // and every call the client sends to the dead member must find a live one instead.
    let leader = cluster.leader().await.unwrap();
    let follower = (leader + 1) % 3;
    cluster.member_mut(follower).stop().await.unwrap();

    let mut failures = Vec::new();
    for n in 0..60 {
        let key = format!("/g/p/n{n}");
        if let Err(err) = store.create(&key, value("v")).await {
            failures.push(format!("create {key}: {err}"));
        }
        if let Err(err) = store.get(&key).await {
            failures.push(format!("get {key}: {err}"));
        }
    }
    if let Err(err) = store.list("/g/p/", &ListOptions::default()).await {
        failures.push(format!("list: {err}"));
    }
    if let Err(err) = store.watch("/g/p/", 0).await {
        failures.push(format!("watch: {err}"));
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_an_etcd_that_is_not_there_is_unavailable_quickly() {
    let port = prepull_testbed::free_loopback_port().unwrap();
    let started = Instant::now();
    let error = EtcdStore::connect(EtcdConfig::new([format!("http://127.0.0.1:{port}")]))
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < OUTAGE_DEADLINE,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_expires_old_reads_watches_and_continue_tokens() {
    let fixture = EtcdFixture::start().await;
    let store = &fixture.store;
    let first = store.create("/g/p/a", value("1")).await.unwrap();
    store.create("/g/p/b", value("2")).await.unwrap();
    let page = store
        .list(
            "/g/p/",
            &ListOptions {
                limit: Some(1),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let token = page.continue_token.clone().expect("a second page");
    let latest = store.create("/g/p/c", value("3")).await.unwrap();

    store.compact(latest.mod_revision).await.unwrap();

    let old_list = store
        .list(
            "/g/p/",
            &ListOptions {
                revision: Some(first.mod_revision),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            old_list,
            StorageError::Expired { requested, oldest }
                if requested == first.mod_revision && oldest == latest.mod_revision
        ),
        "{old_list}"
    );

    let stale_page = store
        .list(
            "/g/p/",
            &ListOptions {
                continue_token: Some(token),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale_page, StorageError::Expired { .. }),
        "{stale_page}"
    );

    let mut watch = store.watch("/g/p/", first.mod_revision).await.unwrap();
    let expired = watch.next().await;
    assert!(
        matches!(
            expired,
            Some(Err(StorageError::Expired { oldest, .. })) if oldest == latest.mod_revision
        ),
        "{expired:?}"
    );
    assert!(
        watch.next().await.is_none(),
        "the stream ends after Expired"
    );

    // From the compaction revision on, history is still there.
    let mut watch = store.watch("/g/p/", latest.mod_revision - 1).await.unwrap();
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.kv.key, "/g/p/c");

    let again = store.compact(first.mod_revision).await.unwrap_err();
    assert!(matches!(again, StorageError::Expired { .. }), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_at_a_future_revision_reports_the_current_one() {
    let fixture = EtcdFixture::start().await;
    let written = fixture.store.create("/g/p/a", value("1")).await.unwrap();
    let error = fixture
        .store
        .list(
            "/g/p/",
            &ListOptions {
                revision: Some(written.mod_revision + 100),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StorageError::RevisionTooLarge { requested, current }
                if requested == written.mod_revision + 100 && current == written.mod_revision
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_larger_than_grpcs_default_message_limit_is_read_whole() {
    let fixture = EtcdFixture::start().await;
    // 40 values of 128 KiB: 5 MiB, over tonic's default 4 MiB decoding limit.
    let big = Bytes::from(vec![b'x'; 128 * 1024]);
    let writes = (0..40).map(|i| {
        let (store, big) = (fixture.store.clone(), big.clone());
        async move { store.create(&format!("/g/p/{i:02}"), big).await }
    });
    for written in futures::future::join_all(writes).await {
        written.unwrap();
    }
    let page = fixture
        .store
        .list("/g/p/", &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 40);
    assert_eq!(page.remaining, Some(0));
    assert!(page.continue_token.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_writes_apply_while_the_leader_key_is_held_and_are_refused_once_its_lease_is_gone() {
    let fixture = EtcdFixture::start().await;
    let mut raw = fixture.raw_client().await;
    let leader_key = format!("{ROOT}-leader/scheduler");
    let lease = raw.lease_grant(60, None).await.unwrap().id();
    let bound = etcd_client::PutOptions::new().with_lease(lease);
    raw.put(leader_key.as_str(), "one", Some(bound))
        .await
        .unwrap();
    let fenced = fixture.store.fenced_by(LeaderFence {
        key: leader_key.clone(),
        lease,
    });

    // While held: every kind of write applies, and a lost compare-and-swap is still a conflict.
    let a = fenced.create("/g/p/a", value("1")).await.unwrap();
    let a = fenced
        .update("/g/p/a", value("2"), a.mod_revision)
        .await
        .unwrap();
    fenced.create("/g/p/b", value("1")).await.unwrap();
    fenced.delete("/g/p/b", None).await.unwrap();
    let stale = fenced
        .update("/g/p/a", value("x"), a.mod_revision - 1)
        .await;
    assert!(
        matches!(stale, Err(StorageError::Conflict { .. })),
        "{stale:?}"
    );
    let again = fenced.create("/g/p/a", value("x")).await;
    assert!(
        matches!(again, Err(StorageError::AlreadyExists { .. })),
        "{again:?}"
    );

    // The lease gone (expired: the leader froze past it) and the key taken by another.
    raw.lease_revoke(lease).await.unwrap();
    let other = raw.lease_grant(60, None).await.unwrap().id();
    let bound = etcd_client::PutOptions::new().with_lease(other);
    raw.put(leader_key.as_str(), "two", Some(bound))
        .await
        .unwrap();
    let refused = [
        fenced.create("/g/p/c", value("1")).await.err(),
        fenced
            .update("/g/p/a", value("3"), a.mod_revision)
            .await
            .err(),
        fenced.delete("/g/p/a", Some(a.mod_revision)).await.err(),
        fenced.delete("/g/p/a", None).await.err(),
    ];
    for error in refused {
        assert!(
            matches!(&error, Some(StorageError::NotLeader { reason }) if reason.contains(&leader_key)),
            "{error:?}"
        );
    }
    // Nothing of it was written; the unfenced store still writes.
    let kept = fixture.store.get("/g/p/a").await.unwrap();
    assert_eq!(
        (kept.value, kept.mod_revision),
        (value("2"), a.mod_revision)
    );
    assert!(matches!(
        fixture.store.get("/g/p/c").await,
        Err(StorageError::NotFound { .. })
    ));
    fixture.store.create("/g/p/c", value("1")).await.unwrap();
}
