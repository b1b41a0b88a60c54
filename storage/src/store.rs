//! The storage contract every backend (etcd, embedded) and the watch cache implement.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::StorageError;

/// A storage revision: a counter over the whole store that grows with every write. An object's
/// `resourceVersion` is the revision of its last write (its `mod_revision`).
pub type Revision = u64;

/// One stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision at which the key was created (unchanged by updates).
    pub create_revision: Revision,
    /// Revision of the last write to the key. For a deletion event: the revision of the delete.
    pub mod_revision: Revision,
}

/// How to read a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items; `None` or `Some(0)` = no limit.
    pub limit: Option<u64>,
    /// Token from a previous page's [`ListPage::continue_token`]. The page continues at the same
    /// revision as the first page, whatever was written since.
    pub continue_token: Option<String>,
    /// Read at exactly this revision instead of the latest. Ignored when `continue_token` is set
    /// (the token carries its own revision).
    pub revision: Option<Revision>,
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Items sorted by key.
    pub items: Vec<KeyValue>,
    /// The revision this page was read at: the list's `resourceVersion`.
    pub revision: Revision,
    /// Set when more items remain; pass it back in [`ListOptions::continue_token`].
    pub continue_token: Option<String>,
    /// How many items remain after this page, when the backend knows.
    pub remaining: Option<u64>,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Created,
    Updated,
    Deleted,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub event_type: EventType,
    /// The key after the change. For [`EventType::Deleted`]: the last value before the delete,
    /// with `mod_revision` set to the revision of the delete.
    pub kv: KeyValue,
    /// The key before the change (`None` for a creation).
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision at which this change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of changes in revision order. It ends with `Err(StorageError::Expired)` when the
/// backend can no longer serve the requested history, and with other errors when the backend
/// fails; the caller then re-lists or re-watches from the last revision it saw.
pub type WatchStream = BoxStream<'static, Result<WatchEvent, StorageError>>;

/// A transactional key-value store with revisions, compare-and-swap and watch.
///
/// Contract shared by every implementation (checked by the conformance suite):
/// - Every successful write gets a new revision, strictly larger than any earlier one, and the
///   returned [`KeyValue`] carries it.
/// - Values larger than [`crate::MAX_VALUE_BYTES`] are refused with
///   [`StorageError::ValueTooLarge`] and nothing is written.
/// - Every call completes or fails within the backend's deadline; an unreachable backend is
///   [`StorageError::Unavailable`], never a hang.
/// - Bytes that cannot be read back (corruption) are [`StorageError::Corrupt`], never a panic.
/// - A write refused for lack of disk space is [`StorageError::InsufficientStorage`]; it leaves
///   reads and watches working, and writes work again once space is freed, without reopening.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Creates `key` if it does not exist. [`StorageError::AlreadyExists`] otherwise.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError>;

    /// The latest value of `key`, or [`StorageError::NotFound`].
    async fn get(&self, key: &str) -> Result<KeyValue, StorageError>;

    /// Keys starting with `prefix`, in key order, read at one revision across all pages.
    /// A continue token or revision older than the retained history is
    /// [`StorageError::Expired`]; a malformed token is [`StorageError::InvalidContinue`]; a
    /// revision newer than the store's is [`StorageError::RevisionTooLarge`].
    async fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StorageError>;

    /// Replaces `key` only if its current `mod_revision` equals `expected`.
    /// [`StorageError::Conflict`] (carrying the current value when known) if it changed,
    /// [`StorageError::NotFound`] if it is gone. Never creates.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StorageError>;

    /// Deletes `key`, only if its `mod_revision` equals `expected` when given. Returns the last
    /// value with `mod_revision` = the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>)
    -> Result<KeyValue, StorageError>;

    /// Changes to keys under `prefix` with a revision strictly greater than `after`, in revision
    /// order, with no gaps. `after` older than the retained history is
    /// [`StorageError::Expired`] (returned here or as the stream's first item).
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError>;

    /// The store's latest revision.
    async fn current_revision(&self) -> Result<Revision, StorageError>;

    /// `Ok` when a write can be expected to succeed now, as far as the backend can tell without
    /// writing anything a reader sees; otherwise the error a write would get now (e.g.
    /// [`StorageError::InsufficientStorage`]). Cheap enough for every readiness probe. Wrappers
    /// must forward it to the store they wrap. The default asks for the current revision: the
    /// backend answers.
    async fn check_writable(&self) -> Result<(), StorageError> {
        self.current_revision().await.map(|_| ())
    }
}
