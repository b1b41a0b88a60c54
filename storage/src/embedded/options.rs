//! Tuning knobs of the embedded store. The defaults suit a single API server replica.

use std::time::Duration;

/// How the embedded store keeps history and talks to its disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// How many revisions of history stay readable (for lists at a revision, continue tokens
    /// and watches from a revision). Older history is compacted away as writes arrive, and
    /// requests for it are `Expired`. 0 keeps all history until [`super::EmbeddedStore::compact`]
    /// is called.
    pub history_revisions: u64,
    /// Most writes committed together in one transaction (group commit).
    pub max_batch: usize,
    /// Most writes waiting for the writer; callers wait for room beyond that.
    pub queue_depth: usize,
    /// Deadline of every call. A call still waiting after it (a stalled disk) fails with
    /// `Unavailable`; a write that was already queued may still be applied.
    pub operation_timeout: Duration,
    /// Bytes of redb's page cache.
    pub cache_bytes: usize,
    /// Most changes a watch reads from the history per step.
    pub watch_read_batch: usize,
    /// Verify the checksum of every page when opening, so a file damaged outside redb fails
    /// to open with `Corrupt` instead of being trusted (a trusted damaged file can make redb
    /// panic later). Costs one read of the whole file per open.
    pub verify_on_open: bool,
    /// While commits fail on the disk (a full filesystem), the longest wait between two
    /// attempts; writes inside the wait fail at once. Each failed attempt reopens the file, so
    /// this bounds that cost; it is also how long writes may keep failing after space is freed.
    pub max_write_retry_backoff: Duration,
    /// After a full disk, writes are tried again only once this many bytes are available on
    /// the data directory's filesystem (small writes often still fit into free pages inside the
    /// file; letting them through would flip readiness while big writes keep failing). 0 tries
    /// as soon as the backoff has passed.
    pub resume_free_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            history_revisions: 10_000,
            max_batch: 256,
            queue_depth: 4096,
            operation_timeout: Duration::from_secs(30),
            cache_bytes: 64 * 1024 * 1024,
            watch_read_batch: 512,
            verify_on_open: true,
            max_write_retry_backoff: Duration::from_secs(2),
            resume_free_bytes: 4 * 1024 * 1024,
        }
    }
}
