//! Watches: one etcd watch (with previous values) per call, its events translated to
//! [`WatchEvent`]s.
//!
//! The stream ends after its first error: a compacted start revision or a watcher that fell
//! behind compaction (etcd cancels it with `compact_revision > 0`) ends it with
//! [`StorageError::Expired`]; a lost connection with [`StorageError::Unavailable`]; an
//! unreadable value with [`StorageError::Corrupt`] (after the events before it).

use std::collections::VecDeque;

use etcd_client::{EventType as EtcdEventType, WatchOptions, WatchResponseStream};
use futures::StreamExt;

use super::error_translation::{Call, malformed, translate};
use super::keyspace::{Keyspace, signed, unsigned};
use super::store::EtcdStore;
use crate::{EventType, Revision, StorageError, WatchEvent, WatchStream};

/// Opens a watch on keys under `prefix` from revision `after + 1`. Returns once etcd confirmed
/// the watch (within the request deadline).
pub(super) async fn watch(
    store: &EtcdStore,
    prefix: &str,
    after: Revision,
) -> Result<WatchStream, StorageError> {
    let (start, end) = store.keyspace.prefix_range(prefix);
    let options = WatchOptions::new()
        .with_range(end)
        .with_start_revision(signed(after.saturating_add(1)))
        .with_prev_key();
    let call = Call::on(prefix).at(Some(after));
    let stream = store
        .sending(&call, || {
            let mut client = store.watch_client.clone();
            let (start, options) = (start.clone(), options.clone());
            async move { client.watch(start, Some(options)).await }
        })
        .await?;
    // Keep the request half open: etcd may treat a closed request stream as the end of the
    // watch.
    let (requests, mut responses) = stream.split();
    match store.within(&call, responses.message()).await? {
        Some(created) if created.created() && !created.canceled() => {}
        Some(refused) if refused.canceled() => {
            return Err(StorageError::Internal(format!(
                "etcd refused the watch: {}",
                refused.cancel_reason()
            )));
        }
        _ => return Err(malformed("watch not confirmed")),
    }

    let state = Watching {
        responses,
        _requests: requests,
        keyspace: store.keyspace.clone(),
        prefix: prefix.to_string(),
        after,
        pending: VecDeque::new(),
        finished: false,
    };
    Ok(futures::stream::unfold(state, next_event).boxed())
}

struct Watching {
    responses: WatchResponseStream,
    _requests: etcd_client::WatchRequestSender,
    keyspace: Keyspace,
    prefix: String,
    after: Revision,
    /// Translated items of the last response not handed out yet.
    pending: VecDeque<Result<WatchEvent, StorageError>>,
    /// Set once the terminal item is queued: nothing is read after it.
    finished: bool,
}

type Item = Result<WatchEvent, StorageError>;

async fn next_event(mut state: Watching) -> Option<(Item, Watching)> {
    loop {
        if let Some(item) = state.pending.pop_front() {
            return Some((item, state));
        }
        if state.finished {
            return None;
        }
        let message = state.responses.message().await;
        state.receive(message);
    }
}

impl Watching {
    /// Queues the items of one message from etcd.
    fn receive(&mut self, message: Result<Option<etcd_client::WatchResponse>, etcd_client::Error>) {
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => {
                return self.finish(StorageError::Unavailable {
                    reason: "etcd closed the watch stream".to_string(),
                });
            }
            Err(err) => {
                let call = Call::on(&self.prefix).at(Some(self.after));
                return self.finish(translate(err, &call));
            }
        };
        if response.compact_revision() > 0 {
            return self.finish(StorageError::Expired {
                requested: self.after,
                oldest: unsigned(response.compact_revision()),
            });
        }
        if response.canceled() {
            return self.finish(StorageError::Unavailable {
                reason: format!("etcd cancelled the watch: {}", response.cancel_reason()),
            });
        }
        // An empty response is a progress notification: nothing to hand out.
        for event in response.events() {
            match self.translate_event(event) {
                Ok(event) => {
                    self.after = event.revision();
                    self.pending.push_back(Ok(event));
                }
                Err(err) => return self.finish(err),
            }
        }
    }

    fn finish(&mut self, error: StorageError) {
        self.pending.push_back(Err(error));
        self.finished = true;
    }

    fn translate_event(&self, event: &etcd_client::Event) -> Item {
        let kv = event
            .kv()
            .cloned()
            .ok_or_else(|| malformed("watch event without a key"))?;
        let prev = event.prev_kv().cloned();
        match event.event_type() {
            EtcdEventType::Put => {
                let created = kv.create_revision() == kv.mod_revision();
                Ok(WatchEvent {
                    event_type: if created {
                        EventType::Created
                    } else {
                        EventType::Updated
                    },
                    kv: self.keyspace.read_etcd(kv)?,
                    prev: match prev {
                        Some(prev) if !created => Some(self.keyspace.read_etcd(prev)?),
                        _ => None,
                    },
                })
            }
            EtcdEventType::Delete => {
                // etcd's delete event has the key and the delete revision but no value.
                let deleted_at = unsigned(kv.mod_revision());
                let prev =
                    prev.ok_or_else(|| malformed("delete event without its previous value"))?;
                let prev = self.keyspace.read_etcd(prev)?;
                let mut last = prev.clone();
                last.mod_revision = deleted_at;
                Ok(WatchEvent {
                    event_type: EventType::Deleted,
                    kv: last,
                    prev: Some(prev),
                })
            }
        }
    }
}

/// etcd's compaction revision: the oldest revision still readable. etcd tells it only to a
/// watch starting before it, so this opens one from revision 1 on a single key and reads the
/// cancellation. Only for when etcd already said "compacted" (otherwise the watch would wait
/// for events until the deadline); at most a round trip plus etcd's 100 ms watcher sync.
pub(super) async fn compaction_revision(store: &EtcdStore) -> Result<Revision, StorageError> {
    let call = Call::on("").at(Some(1));
    let probe_key = store.keyspace.etcd_key("");
    let options = WatchOptions::new().with_start_revision(1);
    let mut client = store.watch_client.clone();
    let stream = store
        .within(&call, client.watch(probe_key, Some(options)))
        .await?;
    let (_requests, mut responses) = stream.split();
    store
        .within(&call, async {
            loop {
                match responses.message().await? {
                    Some(response) if response.compact_revision() > 0 => {
                        return Ok(Some(unsigned(response.compact_revision())));
                    }
                    Some(response) if response.canceled() => return Ok(None),
                    Some(_) => continue,
                    None => return Ok(None),
                }
            }
        })
        .await?
        .ok_or_else(|| malformed("watch from revision 1 ended without a compaction revision"))
}
