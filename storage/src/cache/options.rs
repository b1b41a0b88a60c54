//! How a [`super::WatchCache`] is tuned, and the configuration mistakes it refuses.

use std::time::Duration;

/// Tuning of a [`super::WatchCache`]. [`Default`] gives values fit for the API server.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// How many changes each cached prefix remembers for watches that resume from an older
    /// revision and for reads at an exact past revision. Older changes are forgotten; a watch or
    /// read needing them gets [`crate::StorageError::Expired`] (watch) or is served by the
    /// backend (read).
    pub history_capacity: usize,
    /// How long a consistent read (no revision given) or a read "not older than" a revision the
    /// cache has not reached yet waits for the cache to catch up before asking the backend.
    pub freshness_timeout: Duration,
    /// The prefix the upstream watch covers. Must contain every cached prefix. Consistent reads
    /// are served from memory only when every write to the backend lands under it (the default,
    /// the empty prefix, covers every key); writes elsewhere advance the backend's revision
    /// without the cache seeing them, and consistent reads then wait `freshness_timeout` and
    /// fall back to the backend.
    pub watch_root: String,
    /// Page size of the lists that (re)load the cache.
    pub list_page_size: u64,
    /// First delay before retrying a failed upstream list or watch; doubles per failure.
    pub backoff_initial: Duration,
    /// Largest delay between upstream retries. Retries never stop while the cache lives.
    pub backoff_max: Duration,
    /// What a watch from a revision older than the cache's history gets. `true` (the default):
    /// the backend serves it from its own history, or answers
    /// [`crate::StorageError::Expired`] if that is compacted too; a client reconnecting after
    /// an API server restart resumes without re-listing. `false`: `Expired` at once, as
    /// kube-apiserver's cacher does, sending the client to re-list from the cache instead of
    /// holding a watch on the backend.
    pub old_watches_to_backend: bool,
    /// How many changes a watcher takes from the ring per lock. Bounds both lock hold time and
    /// how many events one watcher holds in hand.
    pub watcher_batch: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            history_capacity: 10_000,
            freshness_timeout: Duration::from_secs(3),
            watch_root: String::new(),
            list_page_size: 500,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            old_watches_to_backend: true,
            watcher_batch: 256,
        }
    }
}

/// A [`super::WatchCache`] configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheConfigError {
    /// Cached prefixes must be resource prefixes (ending in `/`) so a prefix never matches a
    /// longer sibling (`/g/jobs/` vs `/g/jobsx/`).
    #[error("cached prefix {0:?} must end with '/'")]
    PrefixWithoutSlash(String),
    /// A cached prefix outside the watch root would never receive changes.
    #[error("cached prefix {prefix:?} is not under the watch root {root:?}")]
    PrefixOutsideRoot { prefix: String, root: String },
    /// Nested prefixes would hold the same objects twice; cache the outer one only.
    #[error("cached prefixes {0:?} and {1:?} overlap")]
    OverlappingPrefixes(String, String),
    /// A history of zero changes could not even resume a watch from the current revision.
    #[error("history capacity and watcher batch must be at least 1")]
    ZeroCapacity,
}

impl CacheOptions {
    /// Checks `prefixes` against these options.
    pub fn validate(&self, prefixes: &[String]) -> Result<(), CacheConfigError> {
        if self.history_capacity == 0 || self.watcher_batch == 0 {
            return Err(CacheConfigError::ZeroCapacity);
        }
        for (i, prefix) in prefixes.iter().enumerate() {
            if !prefix.ends_with('/') {
                return Err(CacheConfigError::PrefixWithoutSlash(prefix.clone()));
            }
            if !prefix.starts_with(&self.watch_root) {
                return Err(CacheConfigError::PrefixOutsideRoot {
                    prefix: prefix.clone(),
                    root: self.watch_root.clone(),
                });
            }
            for other in &prefixes[i + 1..] {
                if prefix.starts_with(other.as_str()) || other.starts_with(prefix.as_str()) {
                    return Err(CacheConfigError::OverlappingPrefixes(
                        prefix.clone(),
                        other.clone(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The delay before retry number `attempt` (1-based) of an upstream call.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_or_unslashed_prefixes_are_refused() {
        let options = CacheOptions::default();
        assert_eq!(
            options.validate(&["/g/jobs".into()]),
            Err(CacheConfigError::PrefixWithoutSlash("/g/jobs".into()))
        );
        assert!(matches!(
            options.validate(&["/g/jobs/".into(), "/g/jobs/ns/".into()]),
            Err(CacheConfigError::OverlappingPrefixes(..))
        ));
        assert!(
            options
                .validate(&["/g/jobs/".into(), "/g/jobsx/".into()])
                .is_ok()
        );
    }

    #[test]
    fn a_prefix_outside_the_watch_root_is_refused() {
        let options = CacheOptions {
            watch_root: "/apps/".into(),
            ..CacheOptions::default()
        };
        assert!(matches!(
            options.validate(&["/other/x/".into()]),
            Err(CacheConfigError::PrefixOutsideRoot { .. })
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let options = CacheOptions {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..CacheOptions::default()
        };
        assert_eq!(options.backoff(1), Duration::from_millis(100));
        assert_eq!(options.backoff(2), Duration::from_millis(200));
        assert_eq!(options.backoff(4), Duration::from_millis(800));
        assert_eq!(options.backoff(5), Duration::from_secs(1));
        assert_eq!(options.backoff(u32::MAX), Duration::from_secs(1));
    }
}
