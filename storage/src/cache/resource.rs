//! The cached state of one prefix (one resource): the current objects in key order and the
//! history ring of recent changes, behind one lock, plus the signal that wakes its watchers.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::change::{Change, Object};
use super::history::History;
use crate::{EventType, Revision, WatchEvent};

/// One cached prefix. Shared by the cache, its feed and the watchers of the prefix.
#[derive(Debug)]
pub(crate) struct Resource {
    prefix: String,
    state: RwLock<ResourceState>,
    /// Carries the revision of the last change applied here; watchers wait on it.
    changed: watch::Sender<Revision>,
}

/// What a [`Resource`] holds. Locks are held only for in-memory work, never across an await.
#[derive(Debug)]
pub(crate) struct ResourceState {
    pub objects: BTreeMap<Arc<str>, Object>,
    pub history: History,
    /// The revision of the last change applied here, or of the list that loaded the state.
    /// The state is exact at this revision and at every later one up to the next change.
    pub revision: Revision,
    /// False until the first list has been loaded: nothing here may be served before.
    pub loaded: bool,
    /// Set when the cache is dropped: watchers end instead of waiting forever.
    pub closed: bool,
    /// Set when the backend reported a value under this prefix it cannot read back; cleared by
    /// the next successful list. Watchers covering the key end with the same error once they
    /// have delivered everything before it, as a backend watch would.
    pub damage: Option<Damage>,
}

/// A value the backend could not read back ([`crate::StorageError::Corrupt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Damage {
    pub key: String,
    pub reason: String,
}

impl Resource {
    pub(crate) fn new(prefix: String, history_capacity: usize) -> Resource {
        Resource {
            prefix,
            state: RwLock::new(ResourceState::empty(history_capacity)),
            changed: watch::Sender::new(0),
        }
    }

    /// The prefix this resource caches (ends with `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True if `key` (or a narrower prefix) lies under this resource.
    pub fn covers(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    // A panic while holding the lock leaves the state as it was between two whole changes
    // (every change is applied with plain map operations that do not panic half-way), so a
    // poisoned lock is still safe to use.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, ResourceState> {
        self.state.read()
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, ResourceState> {
        self.state.write()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Revision> {
        self.changed.subscribe()
    }

    /// Wakes the watchers of this resource.
    pub(crate) fn notify(&self, revision: Revision) {
        self.changed.send_replace(revision);
    }

    /// Records that the backend cannot read `key` back and wakes the watchers.
    pub(crate) fn mark_damaged(&self, key: String, reason: String) {
        let revision = {
            let mut state = self.write();
            state.damage = Some(Damage { key, reason });
            state.revision
        };
        self.notify(revision);
    }

    /// Ends every watcher of this resource with an error at its next poll.
    pub(crate) fn close(&self) {
        let revision = {
            let mut state = self.write();
            state.closed = true;
            state.revision
        };
        self.notify(revision);
    }
}

impl ResourceState {
    /// Nothing loaded yet.
    pub fn empty(history_capacity: usize) -> ResourceState {
        ResourceState {
            objects: BTreeMap::new(),
            history: History::starting_at(0, history_capacity),
            revision: 0,
            loaded: false,
            closed: false,
            damage: None,
        }
    }

    /// Replaces the whole state with a fresh list read at `revision`; history restarts there.
    pub fn replace(&mut self, objects: BTreeMap<Arc<str>, Object>, revision: Revision) {
        let capacity = self.history.capacity();
        self.objects = objects;
        self.history = History::starting_at(revision, capacity);
        self.revision = revision;
        self.loaded = true;
        self.damage = None;
    }

    /// Applies one upstream change and records it in history. Returns `None` for a change at or
    /// before the state's revision (already applied, e.g. replayed after a re-watch).
    ///
    /// The event type and previous value are taken from the cache's own state, not from the
    /// upstream event, so the previous value shares the bytes already held.
    pub fn apply(&mut self, event: &WatchEvent) -> Option<Arc<Change>> {
        let revision = event.revision();
        if revision <= self.revision {
            return None;
        }
        let key = event.kv.key.as_str();
        let change = match event.event_type {
            EventType::Created | EventType::Updated => {
                let object = Object::ingest(&event.kv);
                let (key, prev) = match self.objects.get_key_value(key) {
                    Some((held, prev)) => (held.clone(), Some(prev.clone())),
                    None => (Arc::<str>::from(key), None),
                };
                self.objects.insert(key.clone(), object.clone());
                Change {
                    key,
                    event_type: if prev.is_some() {
                        EventType::Updated
                    } else {
                        EventType::Created
                    },
                    object,
                    prev,
                }
            }
            EventType::Deleted => match self.objects.remove_entry(key) {
                Some((key, last)) => Change {
                    key,
                    event_type: EventType::Deleted,
                    object: Object {
                        mod_revision: revision,
                        ..last.clone()
                    },
                    prev: Some(last),
                },
                // Deleting a key the cache never saw: keep the backend's account of it.
                None => {
                    let prev = event.prev.as_ref().map(Object::ingest);
                    Change {
                        key: Arc::from(key),
                        event_type: EventType::Deleted,
                        object: Object {
                            value: prev
                                .as_ref()
                                .map(|p| p.value.clone())
                                .unwrap_or_else(|| Object::ingest(&event.kv).value),
                            create_revision: event.kv.create_revision,
                            mod_revision: revision,
                        },
                        prev,
                    }
                }
            },
        };
        let change = Arc::new(change);
        self.history.push(change.clone());
        self.revision = revision;
        Some(change)
    }

    /// Serialized bytes of the current objects (payloads only).
    pub fn payload_bytes(&self) -> usize {
        self.objects.values().map(|o| o.value.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyValue;
    use bytes::Bytes;

    fn event(event_type: EventType, key: &str, value: &str, create: u64, modr: u64) -> WatchEvent {
        WatchEvent {
            event_type,
            kv: KeyValue {
                key: key.into(),
                value: Bytes::copy_from_slice(value.as_bytes()),
                create_revision: create,
                mod_revision: modr,
            },
            prev: None,
        }
    }

    fn loaded_state() -> ResourceState {
        let mut state = ResourceState::empty(100);
        state.replace(BTreeMap::new(), 1);
        state
    }

    #[test]
    fn history_and_state_share_one_copy_of_each_payload() {
        let mut state = loaded_state();
        let created = state
            .apply(&event(EventType::Created, "/g/p/a", "one", 2, 2))
            .unwrap();
        let updated = state
            .apply(&event(EventType::Updated, "/g/p/a", "two", 2, 3))
            .unwrap();
        let current = &state.objects["/g/p/a"];
        assert_eq!(current.value.as_ptr(), updated.object.value.as_ptr());
        let prev = updated.prev.as_ref().unwrap();
        assert_eq!(prev.value.as_ptr(), created.object.value.as_ptr());
        assert!(Arc::ptr_eq(&created.key, &updated.key));
    }

    #[test]
    fn a_delete_records_the_last_value_at_the_delete_revision() {
        let mut state = loaded_state();
        state.apply(&event(EventType::Created, "/g/p/a", "one", 2, 2));
        let deleted = state
            .apply(&event(EventType::Deleted, "/g/p/a", "ignored", 2, 5))
            .unwrap();
        let as_seen = deleted.to_watch_event();
        assert_eq!(as_seen.event_type, EventType::Deleted);
        assert_eq!(&as_seen.kv.value[..], b"one");
        assert_eq!(as_seen.kv.mod_revision, 5);
        assert_eq!(as_seen.prev.unwrap().mod_revision, 2);
        assert!(state.objects.is_empty());
        assert_eq!(state.revision, 5);
    }

    #[test]
    fn a_replayed_change_is_ignored() {
        let mut state = loaded_state();
        assert!(
            state
                .apply(&event(EventType::Created, "/g/p/a", "one", 2, 2))
                .is_some()
        );
        assert!(
            state
                .apply(&event(EventType::Created, "/g/p/a", "one", 2, 2))
                .is_none()
        );
        assert_eq!(state.history.len(), 1);
    }
}
