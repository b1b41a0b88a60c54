//! The embedded backend: Prepull's objects in a local [redb](https://www.redb.org) file, for a
//! single API server replica with no etcd. Start at [`EmbeddedStore`].
//!
//! # Design
//!
//! **Change log and version index** (`tables.rs`). Every write gets the next revision and one
//! record in `changes` (revision -> key, put or delete, create revision, previous version's
//! revision, sealed value), plus one entry `(key, revision)` in `key_versions`. The version of
//! a key at revision R is its last `key_versions` entry <= R, so reading "as of R" (paged lists,
//! lists at a revision) needs no copy of the data: it is MVCC over the log. A put's record
//! holds its value; a delete's record points at the version it removed, which is the value a
//! delete event reports. `meta` holds the current revision and the compaction point, so both
//! survive restarts and revisions never go backwards.
//!
//! **Compaction** (`compaction.rs`). History is kept for the last
//! [`EmbeddedOptions::history_revisions`] revisions (10,000 by default): as writes arrive the
//! writer moves the compaction point C forward in the same transaction, dropping every version
//! superseded at or before C and deletes older than C. Lists at a revision < C, continue tokens
//! issued below C and watches from a revision < C are `Expired`; everything else is served
//! exactly. [`EmbeddedStore::compact`] moves C on request (through the writer, like every write).
//!
//! **Writes** (`writer.rs`). One thread owns writing. It takes queued requests in batches (group
//! commit), checks each one's precondition against the state including earlier writes of the
//! same batch, and commits the batch in one redb transaction with an fsync before anyone hears
//! back. One transaction per batch means a crash leaves either all of a batch or none of it.
//!
//! **Disk failures** (`database_slot.rs`, `write_health.rs`, "Recovery" in `writer.rs`). A
//! commit that fails on the disk (a full filesystem: `InsufficientStorage`) poisons redb's
//! handle, reads included; the writer reopens the file at once, so reads and watches go on from
//! the last durable commit, and writes fail fast (under a bounded backoff, and after a full
//! disk until [`EmbeddedOptions::resume_free_bytes`] are available again) until one succeeds,
//! which happens by itself once space is freed. [`EmbeddedStore`]'s `check_writable`
//! reports this state for readiness probes.
//!
//! **Reads** (`reads.rs`) run on tokio's blocking pool, each in one read transaction, which
//! redb lets run alongside the writer.
//!
//! **Watches** (`watch_stream.rs`, `history.rs`) read the change log after their position and
//! then sleep on a `tokio::sync::watch` channel the writer bumps after each commit. Live and
//! catching-up watchers run the same code, so none can skip an event: one that is too slow
//! for the history window ends with `Expired`.
//!
//! **Integrity.** Values are sealed with [`crate::envelope`]; a damaged value is `Corrupt` on
//! read, a damaged file is `Corrupt` on open, and redb's file lock makes a second opener of the
//! same directory fail with `Unavailable`.

mod blocking;
mod change;
mod compaction;
mod database_slot;
mod db_error;
mod free_space;
pub(crate) mod fuzzing;
mod history;
mod options;
mod reads;
mod store;
mod tables;
mod versions;
mod watch_stream;
mod write_health;
mod write_op;
mod writer;

pub use database_slot::DATABASE_FILE_NAME;
pub use options::EmbeddedOptions;
pub use store::EmbeddedStore;
