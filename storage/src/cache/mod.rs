//! The watch cache: an in-memory copy of chosen key prefixes (one per resource), kept current
//! by watching the backend, that serves reads and watches so the backend only sees writes and
//! one upstream watch.
//!
//! Start reading at [`WatchCache`] (`watch_cache.rs`: routing of every [`crate::Storage`]
//! call), then `freshness.rs` (consistent-read waiting), `feed.rs` (how the cache follows the
//! backend and recovers), `resource.rs` and `history.rs` (the per-prefix state: a sorted map of
//! current objects plus a bounded history ring), `page.rs` (lists at a past revision) and
//! `watcher.rs` (how a client watch walks the ring).
//!
//! # Design
//! - **One copy of each object.** An object's serialized payload is one [`bytes::Bytes`]
//!   allocation shared by the current state, every history event that mentions it and every
//!   event handed to a watcher. Keys are `Arc<str>`. The payload is copied once on ingest into
//!   an allocation of exactly its size so a backend's buffer layout (envelope header, slack
//!   capacity, a page buffer shared by several values) never stays pinned by the cache.
//! - **History ring = broadcast.** Each resource keeps its last
//!   [`CacheOptions::history_capacity`] changes in revision order. A watch is a cursor into that
//!   ring: replaying from an old revision and following live changes are the same loop, and a
//!   watcher holds no queue of its own. A watcher too slow to keep up falls off the end of the
//!   ring and its stream ends with [`crate::StorageError::Expired`]; it never blocks the feed or
//!   other watchers and never makes the cache hold more.
//! - **One upstream watch for all prefixes.** The feed watches [`CacheOptions::watch_root`]
//!   (the whole key space by default) rather than each prefix on its own, so the cache's
//!   revision advances with every write in the store and a consistent read can compare it with
//!   the backend's current revision. Per-prefix watches could not tell "nothing happened under
//!   this prefix" from "the change has not arrived yet" without progress notifications, which
//!   the [`crate::Storage`] trait does not offer.

mod change;
mod feed;
mod freshness;
mod history;
mod options;
mod page;
mod resource;
mod shared;
mod watch_cache;
mod watcher;

pub use freshness::ReadFreshness;
pub use options::{CacheConfigError, CacheOptions};
pub use watch_cache::{CacheStats, WatchCache};
pub use watcher::{CacheWatchItem, CacheWatchStream};
