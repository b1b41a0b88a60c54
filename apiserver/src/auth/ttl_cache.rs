//! A small map whose entries expire: remembers TokenReview and SubjectAccessReview answers for
//! a few seconds, so a burst of requests by one caller costs one review.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Entries live for the TTL given at insertion; at most `capacity` entries are kept (when full,
/// expired entries are dropped first, then everything: a cache miss only costs a review).
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value stored for `key` unless it expired.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock();
        entries
            .get(key)
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, value)| value.clone())
    }

    /// Stores `value` for `ttl`; a zero TTL stores nothing.
    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (now + ttl, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_returned_until_it_expires() {
        let cache = TtlCache::new(10);
        cache.insert("a", 1, Duration::from_secs(60));
        cache.insert("b", 2, Duration::from_nanos(1));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
    }

    #[test]
    fn a_full_cache_makes_room_and_a_zero_ttl_stores_nothing() {
        let cache = TtlCache::new(2);
        cache.insert(1, 1, Duration::from_secs(60));
        cache.insert(2, 2, Duration::from_secs(60));
        cache.insert(3, 3, Duration::from_secs(60));
        assert_eq!(cache.get(&3), Some(3));
        cache.insert(4, 4, Duration::ZERO);
        assert_eq!(cache.get(&4), None);
    }
}
