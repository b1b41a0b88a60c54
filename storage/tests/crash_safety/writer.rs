//! The child side: concurrent writers on the embedded store that print an [`Ack`] after every
//! acknowledged write and carry on, until SIGKILLed (or, bounded, after [`MAX_RUN`]).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::{EventType, Storage};

use crate::ack::Ack;

/// Concurrent writers, so kills land inside group commits of several writes.
const WRITERS: usize = 4;
/// A writer nobody kills stops on its own.
const MAX_RUN: Duration = Duration::from_secs(20);

/// Options the writer and the checker open the store with: all history kept, so the whole
/// change log from revision 1 can be checked.
pub fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        history_revisions: 0,
        ..EmbeddedOptions::default()
    }
}

/// Writes under `/crash/r<run>/` in `dir` until killed.
pub async fn write_until_killed(dir: &Path, run: u32) {
    let store = Arc::new(EmbeddedStore::open(dir, options()).expect("the writer opens the store"));
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            let stdout = stdout.clone();
            tokio::spawn(async move { write_loop(&store, run, writer, &stdout).await })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer task");
    }
}

/// One writer: creates a key, updates it a few times with compare-and-swap, deletes it, and
/// starts over with a new key.
async fn write_loop(
    store: &EmbeddedStore,
    run: u32,
    writer: usize,
    stdout: &Mutex<std::io::Stdout>,
) {
    let started = Instant::now();
    let mut current: Option<(String, u64)> = None;
    for n in 0u64.. {
        if started.elapsed() > MAX_RUN {
            return;
        }
        let value = format!("r{run}w{writer}n{n}");
        let ack = match current.take() {
            None => {
                let key = format!("/crash/r{run}/w{writer}/k{n:06}");
                let kv = store
                    .create(&key, Bytes::from(value.clone()))
                    .await
                    .expect("create");
                current = Some((key.clone(), kv.mod_revision));
                Ack {
                    revision: kv.mod_revision,
                    event_type: EventType::Created,
                    key,
                    value: Some(value),
                }
            }
            Some((key, revision)) if n % 4 != 3 => {
                let kv = store
                    .update(&key, Bytes::from(value.clone()), revision)
                    .await
                    .expect("update");
                current = Some((key.clone(), kv.mod_revision));
                Ack {
                    revision: kv.mod_revision,
                    event_type: EventType::Updated,
                    key,
                    value: Some(value),
                }
            }
            Some((key, revision)) => {
                let kv = store.delete(&key, Some(revision)).await.expect("delete");
                Ack {
                    revision: kv.mod_revision,
                    event_type: EventType::Deleted,
                    key,
                    value: None,
                }
            }
        };
        // The ack is out (in the pipe) before the next write starts.
        let mut out = stdout.lock();
        out.write_all(ack.line().as_bytes()).expect("print the ack");
        out.flush().expect("flush the ack");
    }
}
