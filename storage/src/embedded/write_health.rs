//! What the writer knows about its disk, published to readiness checks.
//!
//! ```text
//! Healthy --a commit fails on the disk--> Failing { failures: 1 }
//! Failing --retry_at passed, the next write (or probe) commits--> Healthy
//! Failing --retry_at passed, the next attempt fails--> Failing { failures + 1 }
//! ```
//!
//! # Recovery
//! Each failed attempt costs a reopen of the file (redb then recovers the last commit and, with
//! `verify_on_open`, reads the file whole), so attempts are spaced by a backoff that starts at
//! [`FIRST_RETRY`] and doubles up to `EmbeddedOptions::max_write_retry_backoff`. Inside it,
//! writes fail fast with the remembered failure without touching the disk. The first write or
//! readiness probe after it tries for real: once space is freed, writes resume by themselves.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::StorageError;

/// The wait after the first failure; it doubles with every failure in a row.
pub(super) const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Whether writes are expected to succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum WriteHealth {
    /// No commit has failed since the last one that succeeded.
    Healthy,
    /// The last attempt failed on the disk; the next one waits until `retry_at`.
    Failing {
        failure: DiskFailure,
        failures: u32,
        retry_at: Instant,
    },
}

/// Why a commit failed on the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum DiskFailure {
    /// No space left (or over quota) on the data directory's filesystem.
    Full { reason: String },
    /// Any other I/O error.
    Io { reason: String },
}

impl DiskFailure {
    /// The failure behind `err`, a write's error on a handle that the error poisoned.
    pub(super) fn of(err: &StorageError) -> DiskFailure {
        match err {
            StorageError::InsufficientStorage { reason, .. } => DiskFailure::Full {
                reason: reason.clone(),
            },
            StorageError::Unavailable { reason } => DiskFailure::Io {
                reason: reason.clone(),
            },
            other => DiskFailure::Io {
                reason: other.to_string(),
            },
        }
    }

    /// The error a write gets for this failure, naming the data directory `dir`.
    pub(super) fn to_error(&self, dir: &Path) -> StorageError {
        match self {
            DiskFailure::Full { reason } => StorageError::InsufficientStorage {
                path: dir.to_path_buf(),
                reason: reason.clone(),
            },
            DiskFailure::Io { reason } => StorageError::Unavailable {
                reason: format!(
                    "writes to the embedded store in {} fail: {reason}",
                    dir.display()
                ),
            },
        }
    }
}

impl WriteHealth {
    /// The error to fail with at `now` without trying, while inside the backoff.
    pub(super) fn fail_fast(&self, now: Instant, dir: &Path) -> Option<StorageError> {
        match self {
            WriteHealth::Failing {
                failure, retry_at, ..
            } if now < *retry_at => Some(failure.to_error(dir)),
            _ => None,
        }
    }

    /// The state after an attempt at `now` failed with `failure`.
    pub(super) fn after_failure(
        &self,
        failure: DiskFailure,
        now: Instant,
        max_backoff: Duration,
    ) -> WriteHealth {
        let failures = match self {
            WriteHealth::Healthy => 1,
            WriteHealth::Failing { failures, .. } => failures.saturating_add(1),
        };
        let backoff = FIRST_RETRY
            .saturating_mul(1u32 << (failures - 1).min(16))
            .min(max_backoff);
        WriteHealth::Failing {
            failure,
            failures,
            retry_at: now + backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> DiskFailure {
        DiskFailure::Full {
            reason: "No space left on device".into(),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_the_maximum_and_writes_fail_fast_inside_it() {
        let start = Instant::now();
        let max = Duration::from_millis(350);
        let mut health = WriteHealth::Healthy;
        let mut waits = Vec::new();
        for _ in 0..4 {
            health = health.after_failure(full(), start, max);
            let WriteHealth::Failing { retry_at, .. } = &health else {
                panic!("failing after a failure");
            };
            waits.push(*retry_at - start);
        }
        assert_eq!(
            waits,
            [100, 200, 350, 350].map(Duration::from_millis),
            "100 ms, doubling, capped"
        );
        let dir = Path::new("/data/store");
        let err = health.fail_fast(start, dir).expect("inside the backoff");
        assert!(
            matches!(&err, StorageError::InsufficientStorage { path, .. } if path == dir),
            "{err:?}"
        );
        assert!(health.fail_fast(start + max, dir).is_none(), "retry due");
        assert!(WriteHealth::Healthy.fail_fast(start, dir).is_none());
    }
}
