//! What the writer knows about its disk, published to readiness checks.
//!
//! ```text
//! Healthy --a commit fails on the disk--> Failing { failures: 1 }
//! Failing --the next attempt is due and commits (a write or a probe)--> Healthy
//! Failing --the next attempt is due and fails--> Failing { failures + 1 }
//! ```
//!
//! # Recovery
//! Each failed attempt costs a reopen of the file (redb then recovers the last commit and, with
//! `verify_on_open`, reads the file whole), so attempts are spaced by a backoff that starts at
//! [`FIRST_RETRY`] and doubles up to `EmbeddedOptions::max_write_retry_backoff`. After a full
//! disk an attempt is also due only once `EmbeddedOptions::resume_free_bytes` are available
//! there: small writes often still fit into free pages inside the file, and letting them
//! through would flip readiness back and forth while big writes keep failing. Until an attempt
//! is due, writes fail fast with the remembered failure without touching the disk; the first
//! write or readiness probe after that tries for real, so writes resume by themselves.

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
    /// The failure to fail with at `now` without trying: inside the backoff, or after a full
    /// disk while fewer than `resume_free_bytes` are `available` (asked only then).
    pub(super) fn blocking(
        &self,
        now: Instant,
        available: impl FnOnce() -> Option<u64>,
        resume_free_bytes: u64,
    ) -> Option<&DiskFailure> {
        let WriteHealth::Failing {
            failure, retry_at, ..
        } = self
        else {
            return None;
        };
        let still_full = || {
            matches!(failure, DiskFailure::Full { .. })
                && available().is_some_and(|free| free < resume_free_bytes)
        };
        (now < *retry_at || still_full()).then_some(failure)
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
        let plenty = || Some(1 << 30);
        let failure = health
            .blocking(start, plenty, 1 << 20)
            .expect("inside the backoff");
        let err = failure.to_error(dir);
        assert!(
            matches!(&err, StorageError::InsufficientStorage { path, .. } if path == dir),
            "{err:?}"
        );
        assert!(
            health.blocking(start + max, plenty, 1 << 20).is_none(),
            "retry due"
        );
        assert!(
            WriteHealth::Healthy
                .blocking(start, plenty, 1 << 20)
                .is_none()
        );
    }

    #[test]
    fn after_a_full_disk_a_retry_waits_for_free_space_but_other_failures_do_not() {
        let start = Instant::now();
        let later = start + Duration::from_secs(60);
        let full = WriteHealth::Healthy.after_failure(full(), start, Duration::from_secs(1));
        assert!(
            full.blocking(later, || Some(1000), 4096).is_some(),
            "still full"
        );
        assert!(
            full.blocking(later, || Some(4096), 4096).is_none(),
            "space is back"
        );
        assert!(
            full.blocking(later, || None, 4096).is_none(),
            "unknown: try"
        );
        let io = WriteHealth::Healthy.after_failure(
            DiskFailure::Io {
                reason: "EIO".into(),
            },
            start,
            Duration::from_secs(1),
        );
        assert!(io.blocking(later, || Some(0), 4096).is_none());
    }
}
