//! Behaviour of the embedded store beyond the shared contract: its data directory, its history
//! window, and watches and writes under its batching.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use prepull_storage::embedded::{DATABASE_FILE_NAME, EmbeddedOptions, EmbeddedStore};
use prepull_storage::{ListOptions, Revision, Storage, StorageError, WatchEvent, WatchStream};

const WAIT: Duration = Duration::from_secs(20);

fn open(dir: &tempfile::TempDir, options: EmbeddedOptions) -> EmbeddedStore {
    EmbeddedStore::open(dir.path(), options).expect("open the embedded store")
}

async fn next_item(stream: &mut WatchStream) -> Option<Result<WatchEvent, StorageError>> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the watch produced nothing within the deadline")
}

/// Writes `count` updates to one key (created first if needed); returns the last revision.
async fn churn(store: &EmbeddedStore, key: &str, count: usize) -> Revision {
    let mut revision = match store.get(key).await {
        Ok(kv) => kv.mod_revision,
        Err(_) => {
            store
                .create(key, Bytes::from("0"))
                .await
                .unwrap()
                .mod_revision
        }
    };
    for i in 0..count {
        revision = store
            .update(key, Bytes::from(i.to_string()), revision)
            .await
            .unwrap()
            .mod_revision;
    }
    revision
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_fails_until_the_first_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(&dir, EmbeddedOptions::default());
    first.create("/k", Bytes::from("v")).await.unwrap();
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    assert!(
        matches!(&err, StorageError::Unavailable { reason } if reason.contains("already open")),
        "{err:?}"
    );
    drop(first);
    let again = open(&dir, EmbeddedOptions::default());
    assert_eq!(again.get("/k").await.unwrap().value, Bytes::from("v"));
}

#[tokio::test]
async fn a_damaged_database_file_is_a_corrupt_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join(DATABASE_FILE_NAME), garbage).unwrap();
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn history_older_than_the_window_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        &dir,
        EmbeddedOptions {
            history_revisions: 10,
            ..EmbeddedOptions::default()
        },
    );
    store.create("/w/kept", Bytes::from("old")).await.unwrap();
    let last = churn(&store, "/w/busy", 29).await;
    assert_eq!(last, 31);
    assert_eq!(store.compacted_revision().await.unwrap(), 21);

    let err = match store.watch("/w/", 5).await {
        Err(err) => err,
        Ok(_) => panic!("a watch from before the window must fail"),
    };
    assert!(
        matches!(
            err,
            StorageError::Expired {
                requested: 5,
                oldest: 21
            }
        ),
        "{err:?}"
    );
    let err = store
        .list(
            "/w/",
            &ListOptions {
                revision: Some(20),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Expired { .. }), "{err:?}");

    // The window itself is whole, including a key last written long before it.
    let page = store
        .list(
            "/w/",
            &ListOptions {
                revision: Some(21),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<&str> = page.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/w/busy", "/w/kept"]);
    assert_eq!(page.items[1].value, Bytes::from("old"));
    let mut stream = store.watch("/w/", 21).await.unwrap();
    for expected in 22..=31 {
        let event = next_item(&mut stream).await.unwrap().unwrap();
        assert_eq!(event.revision(), expected);
        assert_eq!(event.prev.unwrap().mod_revision, expected - 1);
    }

    // Asking to compact the future is refused; the past is a no-op.
    assert!(matches!(
        store.compact(100).await,
        Err(StorageError::RevisionTooLarge {
            requested: 100,
            current: 31
        })
    ));
    store.compact(3).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 21);
}

#[tokio::test]
async fn a_watcher_slower_than_the_window_gets_expired_after_an_unbroken_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        &dir,
        EmbeddedOptions {
            history_revisions: 8,
            watch_read_batch: 4,
            ..EmbeddedOptions::default()
        },
    );
    let mut stream = store.watch("/slow/", 0).await.unwrap();
    churn(&store, "/slow/a", 1).await;
    assert_eq!(next_item(&mut stream).await.unwrap().unwrap().revision(), 1);
    // The watcher stops reading while the history moves far past it.
    churn(&store, "/slow/a", 40).await;
    let mut expected = 2;
    loop {
        match next_item(&mut stream).await {
            Some(Ok(event)) => {
                assert_eq!(event.revision(), expected, "no gap before the error");
                expected += 1;
            }
            Some(Err(err)) => {
                assert!(matches!(err, StorageError::Expired { .. }), "{err:?}");
                break;
            }
            None => panic!("the watch ended without an error"),
        }
    }
    assert!(next_item(&mut stream).await.is_none());
}

#[tokio::test]
async fn watches_read_the_history_in_small_steps_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        &dir,
        EmbeddedOptions {
            watch_read_batch: 3,
            ..EmbeddedOptions::default()
        },
    );
    let mut stream = store.watch("/mine/", 0).await.unwrap();
    let mut mine = Vec::new();
    for i in 0..50 {
        let prefix = if i % 3 == 0 { "/mine/" } else { "/theirs/" };
        let kv = store
            .create(&format!("{prefix}{i:02}"), Bytes::from("v"))
            .await
            .unwrap();
        if prefix == "/mine/" {
            mine.push(kv);
        }
    }
    for expected in mine {
        assert_eq!(next_item(&mut stream).await.unwrap().unwrap().kv, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_numbered_without_holes_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir, EmbeddedOptions::default()));
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(&format!("/many/{i:02}"), Bytes::from(i.to_string()))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        written.push(writer.await.unwrap());
    }
    let mut revisions: Vec<Revision> = written.iter().map(|kv| kv.mod_revision).collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=64).collect::<Vec<_>>());

    drop(Arc::try_unwrap(store).expect("no other handle"));
    let store = open(&dir, EmbeddedOptions::default());
    assert_eq!(store.current_revision().await.unwrap(), 64);
    let page = store.list("/many/", &ListOptions::default()).await.unwrap();
    written.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(page.items, written);
    let next = store.create("/many/next", Bytes::from("n")).await.unwrap();
    assert_eq!(next.mod_revision, 65);
}

#[tokio::test]
async fn a_watch_ends_when_its_store_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, EmbeddedOptions::default());
    let mut stream = store.watch("/closing/", 0).await.unwrap();
    drop(store);
    assert!(matches!(
        next_item(&mut stream).await,
        Some(Err(StorageError::Unavailable { .. }))
    ));
    assert!(next_item(&mut stream).await.is_none());
    // The open watch did not keep the file locked.
    drop(open(&dir, EmbeddedOptions::default()));
}

#[tokio::test]
async fn a_database_file_damaged_in_place_fails_to_open_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir, EmbeddedOptions::default());
        for i in 0..200 {
            let value = Bytes::from(vec![b'v'; 2000]);
            store.create(&format!("/d/{i:03}"), value).await.unwrap();
        }
    }
    // Flip bits in a region that holds table pages (the file is about 1 MiB).
    let path = dir.path().join(DATABASE_FILE_NAME);
    let mut data = std::fs::read(&path).unwrap();
    for byte in &mut data[300_000..300_512] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, data).unwrap();
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
}

/// Set in the child process of the test below: the directory it must fail to open.
const CHILD_DIR_VAR: &str = "PREPULL_EMBEDDED_LOCKED_DIR";

#[tokio::test]
async fn a_second_process_cannot_open_a_directory_in_use() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_VAR) {
        // The child: the parent holds the store open.
        let err = EmbeddedStore::open(dir.as_ref(), EmbeddedOptions::default()).unwrap_err();
        assert!(
            matches!(&err, StorageError::Unavailable { reason } if reason.contains("already open")),
            "{err:?}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, EmbeddedOptions::default());
    store.create("/k", Bytes::from("v")).await.unwrap();
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_second_process_cannot_open_a_directory_in_use",
            "--nocapture",
        ])
        .env(CHILD_DIR_VAR, dir.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, child)
        .await
        .expect("the child process finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The refused opener did not disturb the owner.
    assert_eq!(store.get("/k").await.unwrap().value, Bytes::from("v"));
}
