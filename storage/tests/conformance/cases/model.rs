//! The reference the model-based case checks a backend against: the [`crate::Storage`]
//! contract as a plain log of writes in revision order, from which the state at any revision
//! and the watch events after any revision follow.

use std::collections::BTreeMap;

use prepull_storage::{EventType, KeyValue, Revision, WatchEvent};

/// One successful write.
#[derive(Clone, Debug)]
struct Write {
    event_type: EventType,
    /// The value after the write; for a delete, the last value with the delete's revision.
    kv: KeyValue,
    prev: Option<KeyValue>,
}

/// What every backend must agree with, given that only the case writes to it.
#[derive(Debug)]
pub struct Model {
    /// The backend's revision before the case wrote anything.
    base: Revision,
    log: Vec<Write>,
    /// The compaction point: reads below it are `Expired`.
    compacted: Revision,
}

impl Model {
    pub fn new(base: Revision) -> Model {
        Model {
            base,
            log: Vec::new(),
            compacted: 0,
        }
    }

    /// The revision of the last write (the backend's current revision).
    pub fn current(&self) -> Revision {
        self.log
            .last()
            .map_or(self.base, |write| write.kv.mod_revision)
    }

    pub fn base(&self) -> Revision {
        self.base
    }

    pub fn compacted(&self) -> Revision {
        self.compacted
    }

    pub fn compact(&mut self, to: Revision) {
        self.compacted = self.compacted.max(to);
    }

    /// The live value of `key` now.
    pub fn live(&self, key: &str) -> Option<&KeyValue> {
        let last = self.log.iter().rev().find(|write| write.kv.key == key)?;
        (last.event_type != EventType::Deleted).then_some(&last.kv)
    }

    /// Records a successful write (its revision must be past every earlier one).
    pub fn record(&mut self, event_type: EventType, kv: KeyValue, prev: Option<KeyValue>) {
        assert!(kv.mod_revision > self.current(), "checked by the caller");
        self.log.push(Write {
            event_type,
            kv,
            prev,
        });
    }

    /// The keys under `prefix` at `revision`, in key order.
    pub fn state_at(&self, prefix: &str, revision: Revision) -> Vec<KeyValue> {
        let mut state = BTreeMap::new();
        for write in self
            .log
            .iter()
            .take_while(|write| write.kv.mod_revision <= revision)
            .filter(|write| write.kv.key.starts_with(prefix))
        {
            match write.event_type {
                EventType::Deleted => state.remove(&write.kv.key),
                _ => state.insert(write.kv.key.clone(), write.kv.clone()),
            };
        }
        state.into_values().collect()
    }

    /// The events a watch of `prefix` after `after` delivers, in order.
    pub fn events_after(&self, prefix: &str, after: Revision) -> Vec<WatchEvent> {
        self.log
            .iter()
            .filter(|write| write.kv.mod_revision > after && write.kv.key.starts_with(prefix))
            .map(|write| WatchEvent {
                event_type: write.event_type,
                kv: write.kv.clone(),
                prev: write.prev.clone(),
            })
            .collect()
    }

    /// The revisions at which something was written, for picking past revisions.
    pub fn revisions(&self) -> impl Iterator<Item = Revision> + '_ {
        self.log.iter().map(|write| write.kv.mod_revision)
    }
}
