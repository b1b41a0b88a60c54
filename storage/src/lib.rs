//! Prepull's storage layer: one [`Storage`] trait and the backends that implement it.
//!
//! Start reading at [`store`] (the trait and its contract), then [`error`] (what can go wrong
//! and what the caller should do). Keys follow kube-apiserver's layout
//! (`/<group>/<plural>/[<namespace>/]<name>`, see [`keys`]); values are opaque bytes (the
//! serialized object). Revisions are owned here: nothing above this crate interprets them except
//! as opaque `resourceVersion` strings.
//!
//! Every backend passes one conformance suite (`tests/conformance*.rs`), which exercises the
//! contract written on [`Storage`].

pub mod cache;
pub mod continue_token;
pub mod embedded;
pub mod envelope;
pub mod error;
pub mod etcd;
#[doc(hidden)]
pub mod fuzzing;
pub mod guaranteed_update;
pub mod keys;
pub mod store;

pub use error::StorageError;
pub use guaranteed_update::{GuaranteedUpdateError, guaranteed_update};
pub use store::{
    EventType, KeyValue, ListOptions, ListPage, Revision, Storage, WatchEvent, WatchStream,
};

/// Largest value a backend accepts. etcd refuses requests over 1.5 MiB, and that limit covers
/// the whole request (key, envelope, framing), so values stop 4 KiB short of it. Every backend
/// applies the same limit so behaviour does not depend on the backend.
pub const MAX_VALUE_BYTES: usize = 1536 * 1024 - 4096;
