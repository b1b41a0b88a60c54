//! The feed: the background task that loads the cache from the backend and keeps it current.
//!
//! It is a small state machine ([`State`] and [`step`]): list every cached prefix at one
//! revision, then watch the [`CacheOptions::watch_root`](super::CacheOptions::watch_root) from
//! that revision and apply each change to the prefix it falls under. Changes under no cached
//! prefix only advance the cache's revision.
//!
//! # Recovery
//! - The upstream watch ends or fails with a transient error: the state is still exact up to
//!   the last applied revision, so the feed re-opens the watch from there
//!   ([`State::Rewatching`]); watchers of the cache notice nothing but a pause.
//! - The backend answers [`StorageError::Expired`] (history compacted past the last applied
//!   revision) or [`StorageError::Corrupt`] (a value the feed cannot take): changes were lost,
//!   so the feed re-lists everything ([`State::Listing`]). History restarts at the new list's
//!   revision; watchers whose position is older end with `Expired` and must re-list. A corrupt
//!   value under a cached prefix also ends that prefix's watchers with `Corrupt`, and the
//!   re-list keeps failing (with backoff) until an operator repairs or deletes the key; reads
//!   meanwhile go to the backend, which reports the damage itself.
//! - Every failed attempt waits [`CacheOptions::backoff`](super::CacheOptions::backoff) (doubling, capped) before the
//!   next one; the feed never gives up while the cache lives.
//!
//! While the feed is not [`State::Watching`], the cache is not ready: consistent reads go to
//! the backend instead of waiting (see [`super::WatchCache`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;

use super::change::Object;
use super::shared::Shared;
use crate::{ListOptions, Revision, StorageError, WatchEvent, WatchStream};

/// Where the feed is.
pub(crate) enum State {
    /// The cache's state cannot be trusted (start, or changes were lost): list every prefix.
    /// `attempt` counts failures so far, for backoff.
    Listing { attempt: u32 },
    /// The upstream watch broke; the state is exact up to `revision`. Re-open the watch.
    Rewatching { revision: Revision, attempt: u32 },
    /// Applying upstream changes; `revision` is the last one applied.
    Watching {
        revision: Revision,
        stream: WatchStream,
    },
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Listing { attempt } => write!(f, "Listing {{ attempt: {attempt} }}"),
            State::Rewatching { revision, attempt } => {
                write!(
                    f,
                    "Rewatching {{ revision: {revision}, attempt: {attempt} }}"
                )
            }
            State::Watching { revision, .. } => write!(f, "Watching {{ revision: {revision} }}"),
        }
    }
}

/// Runs the feed until the task is aborted (when the cache is dropped).
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut state = State::Listing { attempt: 0 };
    loop {
        state = step(&shared, state).await;
    }
}

/// One transition of the feed.
pub(crate) async fn step(shared: &Shared, state: State) -> State {
    match state {
        State::Listing { attempt } => {
            shared.set_ready(false);
            if attempt > 0 {
                tokio::time::sleep(shared.options.backoff(attempt)).await;
            }
            let revision = match list_all(shared).await {
                Ok(revision) => revision,
                Err(err) => {
                    tracing::warn!(error = %err, attempt, "watch cache: list failed");
                    return State::Listing {
                        attempt: attempt.saturating_add(1),
                    };
                }
            };
            tracing::debug!(revision, "watch cache: listed");
            match open_watch(shared, revision).await {
                Ok(watching) => watching,
                // Compacted between the list and the watch: list again, after a pause.
                Err(StorageError::Expired { .. }) => State::Listing {
                    attempt: attempt.saturating_add(1),
                },
                Err(err) => recover(err, revision, 1),
            }
        }
        State::Rewatching { revision, attempt } => {
            tokio::time::sleep(shared.options.backoff(attempt)).await;
            match open_watch(shared, revision).await {
                Ok(watching) => watching,
                Err(err) => recover(err, revision, attempt.saturating_add(1)),
            }
        }
        State::Watching {
            revision,
            mut stream,
        } => match stream.next().await {
            Some(Ok(event)) => {
                let revision = revision.max(event.revision());
                shared.apply(&event);
                State::Watching { revision, stream }
            }
            Some(Err(err)) => {
                shared.set_ready(false);
                tracing::warn!(error = %err, revision, "watch cache: upstream watch failed");
                if let StorageError::Corrupt { key, reason } = &err
                    && let Some(resource) = shared.resource_for(key)
                {
                    resource.mark_damaged(key.clone(), reason.clone());
                }
                recover(err, revision, 1)
            }
            None => {
                shared.set_ready(false);
                tracing::info!(revision, "watch cache: upstream watch ended");
                State::Rewatching {
                    revision,
                    attempt: 1,
                }
            }
        },
    }
}

/// Opens the upstream watch after `revision`; the cache is ready once it is open.
async fn open_watch(shared: &Shared, revision: Revision) -> Result<State, StorageError> {
    let stream = shared
        .backend
        .watch(&shared.options.watch_root, revision)
        .await
        .inspect_err(|err| {
            tracing::warn!(error = %err, revision, "watch cache: opening the upstream watch failed");
        })?;
    shared.set_ready(true);
    Ok(State::Watching { revision, stream })
}

/// The state to go to after `err` from the backend while following changes after `revision`.
fn recover(err: StorageError, revision: Revision, rewatch_attempt: u32) -> State {
    match err {
        StorageError::Expired { .. } => State::Listing { attempt: 0 },
        StorageError::Corrupt { .. } => State::Listing { attempt: 1 },
        _ => State::Rewatching {
            revision,
            attempt: rewatch_attempt,
        },
    }
}

/// Lists every cached prefix at one revision and installs the result. Returns the revision.
async fn list_all(shared: &Shared) -> Result<Revision, StorageError> {
    let mut at: Option<Revision> = None;
    let mut loaded = Vec::with_capacity(shared.resources.len());
    for resource in &shared.resources {
        let mut objects: BTreeMap<Arc<str>, Object> = BTreeMap::new();
        let mut options = ListOptions {
            limit: Some(shared.options.list_page_size),
            continue_token: None,
            revision: at,
        };
        loop {
            let page = shared.backend.list(resource.prefix(), &options).await?;
            at.get_or_insert(page.revision);
            for kv in &page.items {
                objects.insert(Arc::from(kv.key.as_str()), Object::ingest(kv));
            }
            match page.continue_token {
                Some(token) => options.continue_token = Some(token),
                None => break,
            }
        }
        loaded.push(objects);
    }
    let revision = match at {
        Some(revision) => revision,
        None => shared.backend.current_revision().await?,
    };
    for (resource, objects) in shared.resources.iter().zip(loaded) {
        resource.write().replace(objects, revision);
        resource.notify(revision);
    }
    shared.advance(revision);
    Ok(revision)
}

impl Shared {
    /// Applies one upstream change: to the resource it falls under, then to the revision.
    fn apply(&self, event: &WatchEvent) {
        let revision = event.revision();
        if let Some(resource) = self.resource_for(&event.kv.key) {
            let applied = resource.write().apply(event).is_some();
            if applied {
                resource.notify(revision);
            }
        }
        self.advance(revision);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::sync::watch;

    use super::*;
    use crate::Storage;
    use crate::cache::CacheOptions;
    use crate::cache::resource::Resource;
    use crate::cache::watcher::Watcher;
    use crate::embedded::{EmbeddedOptions, EmbeddedStore};

    const PREFIX: &str = "/g/p/";

    fn shared_on(store: Arc<EmbeddedStore>) -> Shared {
        let options = CacheOptions {
            backoff_initial: Duration::from_millis(1),
            ..CacheOptions::default()
        };
        Shared {
            backend: store,
            resources: vec![Arc::new(Resource::new(
                PREFIX.into(),
                options.history_capacity,
            ))],
            options,
            revision: watch::Sender::new(0),
            ready: watch::Sender::new(false),
            memory_reads: AtomicU64::new(0),
            fallback_reads: AtomicU64::new(0),
        }
    }

    async fn create(store: &EmbeddedStore, name: &str) -> Revision {
        store
            .create(&format!("{PREFIX}{name}"), Bytes::from_static(b"v"))
            .await
            .unwrap()
            .mod_revision
    }

    #[tokio::test]
    async fn lost_history_sends_the_feed_back_to_a_full_list_and_expires_older_watchers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap());
        create(&store, "a").await;
        let listed_at = create(&store, "b").await;
        let shared = shared_on(store.clone());

        let state = step(&shared, State::Listing { attempt: 0 }).await;
        assert!(
            matches!(state, State::Watching { revision, .. } if revision == listed_at),
            "{state:?}"
        );
        assert!(*shared.ready.borrow());
        let resource = shared.resources[0].clone();
        assert_eq!(resource.read().objects.len(), 2);
        let mut watcher = Watcher::new(
            resource.clone(),
            PREFIX.into(),
            listed_at,
            shared.revision.subscribe(),
            16,
            None,
        )
        .into_stream();

        // The upstream watch is lost while writes happen and the backend compacts them away.
        drop(state);
        create(&store, "c").await;
        let latest = create(&store, "d").await;
        store.compact(latest).await.unwrap();

        let state = step(
            &shared,
            State::Rewatching {
                revision: listed_at,
                attempt: 1,
            },
        )
        .await;
        assert!(matches!(state, State::Listing { attempt: 0 }), "{state:?}");
        let state = step(&shared, state).await;
        assert!(
            matches!(state, State::Watching { revision, .. } if revision == latest),
            "{state:?}"
        );
        assert_eq!(resource.read().objects.len(), 4);
        assert_eq!(*shared.revision.borrow(), latest);

        // The watcher missed c and d: it must re-list rather than see a gap.
        match watcher.next().await {
            Some(Err(StorageError::Expired { requested, oldest })) => {
                assert_eq!((requested, oldest), (listed_at, latest));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failed_list_backs_off_and_counts_the_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap());
        create(&store, "a").await;
        store
            .write_unsealed(&format!("{PREFIX}damaged"), Bytes::from_static(b"raw"))
            .await
            .unwrap();
        let shared = shared_on(store.clone());

        let state = step(&shared, State::Listing { attempt: 0 }).await;
        assert!(matches!(state, State::Listing { attempt: 1 }), "{state:?}");
        let state = step(&shared, state).await;
        assert!(matches!(state, State::Listing { attempt: 2 }), "{state:?}");
        assert!(!*shared.ready.borrow());
        assert!(!shared.resources[0].read().loaded);

        store
            .delete(&format!("{PREFIX}damaged"), None)
            .await
            .unwrap();
        let state = step(&shared, state).await;
        assert!(matches!(state, State::Watching { .. }), "{state:?}");
        assert!(*shared.ready.borrow());
    }
}
