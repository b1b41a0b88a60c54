//! The embedded store on a real, small tmpfs that fills up: writes are refused with
//! `InsufficientStorage` naming the data directory, reads and watches go on, and writes work
//! again once space is freed, without reopening the store.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::{EventType, KeyValue, ListOptions, Storage, StorageError, WatchStream};
use prepull_testbed::Tmpfs;

const PREFIX: &str = "/apps.kruise.io/nodeimages/";
const WAIT: Duration = Duration::from_secs(20);
/// Bound on how long writes may keep failing after space is freed (the default backoff caps
/// at 2 s).
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// The longest wait between write attempts on a full disk, short so the test can wait it out.
const BACKOFF: Duration = Duration::from_millis(200);

fn key(i: usize) -> String {
    format!("{PREFIX}node-{i:05}")
}

/// ~8 KiB, so the disk fills in few writes.
fn value(i: usize) -> Bytes {
    Bytes::from(format!("{i:08}").repeat(1024))
}

fn assert_full(err: &StorageError, dir: &std::path::Path) {
    match err {
        StorageError::InsufficientStorage { path, reason } => {
            assert_eq!(path, dir, "the error names the data directory");
            assert!(!reason.is_empty());
        }
        other => panic!("expected InsufficientStorage, got {other:?}"),
    }
}

async fn next_created(stream: &mut WatchStream) -> KeyValue {
    let event = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch delivered within the deadline")
        .expect("the watch is open")
        .expect("the watch works");
    assert_eq!(event.event_type, EventType::Created);
    event.kv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers_once_space_is_freed() {
    let disk = Tmpfs::mount(16 << 20).expect("a 16 MiB tmpfs");
    let dir = disk.path().join("store");
    let options = EmbeddedOptions {
        max_write_retry_backoff: BACKOFF,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open(&dir, options).expect("open");
    let mut acked = Vec::new();
    for i in 0..5 {
        acked.push(store.create(&key(i), value(i)).await.unwrap());
    }
    let mut live = store.watch(PREFIX, 0).await.unwrap();

    let (filler, filled) = disk.fill("filler").expect("fill the tmpfs");
    let mut refused = None;
    for i in acked.len()..2000 {
        match store.create(&key(i), value(i)).await {
            Ok(kv) => acked.push(kv),
            Err(err) => {
                refused = Some((i, err));
                break;
            }
        }
    }
    let (refused_index, err) = refused.expect("the disk filled up within 2000 writes");
    assert_full(&err, &dir);
    // Refused again, and reported as such to readiness checks.
    assert_full(
        &store
            .create(&key(refused_index), value(refused_index))
            .await
            .unwrap_err(),
        &dir,
    );
    assert_full(&store.check_writable().await.unwrap_err(), &dir);
    // Past the backoff, while the disk stays full: still refused, even a write small enough
    // to fit into a free page of the file, so readiness does not flip back and forth.
    tokio::time::sleep(BACKOFF * 3).await;
    assert_full(&store.check_writable().await.unwrap_err(), &dir);
    assert_full(
        &store.create(&key(999_999), Bytes::new()).await.unwrap_err(),
        &dir,
    );

    // Reads and watches go on from the last durable commit.
    for kv in &acked {
        assert_eq!(&store.get(&kv.key).await.unwrap(), kv);
    }
    assert!(matches!(
        store.get(&key(refused_index)).await,
        Err(StorageError::NotFound { .. })
    ));
    let page = store.list(PREFIX, &ListOptions::default()).await.unwrap();
    assert_eq!(page.items, acked);
    let mut replay = store.watch(PREFIX, 0).await.unwrap();
    for kv in &acked {
        assert_eq!(&next_created(&mut live).await, kv, "the open watch");
        assert_eq!(&next_created(&mut replay).await, kv, "a new watch");
    }

    std::fs::remove_file(&filler).expect("free the space");
    let freed = Instant::now();
    // Readiness probes alone bring writes back: no write is needed to notice.
    loop {
        match store.check_writable().await {
            Ok(()) => break,
            Err(err) => {
                assert_full(&err, &dir);
                assert!(
                    freed.elapsed() < RECOVERY_BOUND,
                    "writes still refused {RECOVERY_BOUND:?} after freeing {filled} bytes"
                );
                // No event says "space is back"; a bounded poll of the condition.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let recovered_in = freed.elapsed();
    let next = store
        .create(&key(refused_index), value(refused_index))
        .await
        .expect("writes work again");
    let last = acked.last().unwrap().mod_revision;
    assert_eq!(
        next.mod_revision,
        last + 1,
        "refused writes took no revision"
    );
    assert_eq!(
        next_created(&mut live).await,
        next,
        "the open watch goes on"
    );
    acked.push(next);

    drop(live);
    drop(replay);
    drop(store);
    let store = EmbeddedStore::open(&dir, EmbeddedOptions::default()).expect("reopen");
    let page = store.list(PREFIX, &ListOptions::default()).await.unwrap();
    assert_eq!(page.items, acked, "every acknowledged write survived");
    println!(
        "full disk: {} writes acknowledged, refused from write {refused_index}, \
         writable again {recovered_in:?} after freeing {filled} bytes",
        acked.len() - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_that_fill_the_disk_lose_no_acknowledged_write_and_resume_when_it_grows()
{
    const WRITERS: usize = 8;
    let disk = Tmpfs::mount(8 << 20).expect("an 8 MiB tmpfs");
    let dir = disk.path().join("store");
    let store = std::sync::Arc::new(EmbeddedStore::open(&dir, EmbeddedOptions::default()).unwrap());
    let mut live = store.watch(PREFIX, 0).await.unwrap();

    // Each writer creates its own keys until the disk refuses one.
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..100_000 {
                    let i = n * WRITERS + writer;
                    match store.create(&key(i), value(i)).await {
                        Ok(kv) => acked.push(kv),
                        Err(err) => return (acked, err),
                    }
                }
                panic!("8 MiB held 100k values of 8 KiB");
            })
        })
        .collect();
    let mut acked = Vec::new();
    for writer in writers {
        let (mine, err) = writer.await.unwrap();
        assert_full(&err, &dir);
        acked.extend(mine);
    }
    acked.sort_by_key(|kv| kv.mod_revision);
    assert!(
        acked.len() > WRITERS,
        "writes succeeded before the disk filled"
    );
    // Every revision from 1 is an acknowledged write: no gap, no duplicate, none lost.
    for (n, kv) in acked.iter().enumerate() {
        assert_eq!(kv.mod_revision, n as u64 + 1);
        assert_eq!(&next_created(&mut live).await, kv);
    }
    assert_eq!(store.current_revision().await.unwrap(), acked.len() as u64);

    disk.resize(16 << 20).expect("grow the tmpfs");
    let grown = Instant::now();
    let i = 1_000_000;
    let next = loop {
        match store.create(&key(i), value(i)).await {
            Ok(kv) => break kv,
            Err(err) => {
                assert_full(&err, &dir);
                assert!(grown.elapsed() < RECOVERY_BOUND, "writes still refused");
                // No event says "space is back"; a bounded poll of the condition.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let recovered_in = grown.elapsed();
    assert_eq!(next.mod_revision, acked.len() as u64 + 1);
    assert_eq!(next_created(&mut live).await, next);
    store.check_writable().await.expect("ready again");
    println!(
        "disk filled by {WRITERS} writers: {} writes acknowledged, 0 lost; \
         writable again {recovered_in:?} after the filesystem grew",
        acked.len()
    );
}
