//! The two shapes the cache stores: an [`Object`] (one version of a key) and a [`Change`] (one
//! history event). Both hold their payload as a shared [`Bytes`] so the same version is stored
//! once whether it is current, in history, or in flight to watchers.

use std::sync::Arc;

use bytes::Bytes;

use crate::{EventType, KeyValue, Revision, WatchEvent};

/// One version of a key, without the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Object {
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

impl Object {
    /// Takes the version from a backend [`KeyValue`], copying the payload into an allocation of
    /// exactly its size (see the module doc of [`crate::cache`] for why).
    pub fn ingest(kv: &KeyValue) -> Object {
        Object {
            value: Bytes::copy_from_slice(&kv.value),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
        }
    }

    pub fn to_key_value(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        }
    }
}

/// One change to one key, as kept in history and handed to watchers.
#[derive(Debug)]
pub(crate) struct Change {
    pub key: Arc<str>,
    pub event_type: EventType,
    /// The version after the change. For a deletion: the last version, with `mod_revision` set
    /// to the revision of the delete (as [`WatchEvent::kv`]).
    pub object: Object,
    /// The version before the change; `None` for a creation.
    pub prev: Option<Object>,
}

impl Change {
    pub fn revision(&self) -> Revision {
        self.object.mod_revision
    }

    pub fn to_watch_event(&self) -> WatchEvent {
        WatchEvent {
            event_type: self.event_type,
            kv: self.object.to_key_value(&self.key),
            prev: self.prev.as_ref().map(|prev| prev.to_key_value(&self.key)),
        }
    }
}
