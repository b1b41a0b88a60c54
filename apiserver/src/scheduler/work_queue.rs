//! [`WorkQueue`]: the scheduler's queue of job keys, in the manner of client-go's workqueue.
//!
//! A key is queued at most once however often it is added; a key being processed is never
//! handed to a second worker at the same time (added again meanwhile, it is queued once the
//! first worker is done). Keys can also be added after a delay (deadlines, TTLs): one timer
//! task holds the earliest due time, so nothing polls. The queue holds each key at most once,
//! so its size is bounded by the number of jobs.
//!
//! A key whose work failed is [`retry`](WorkQueue::retry)-ed with a per-key exponential
//! backoff (client-go's `ItemExponentialFailureRateLimiter`), until its work succeeds and it
//! is [`forget`](WorkQueue::forget)-ten.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Delay of a key's first retry; each further failure doubles it.
pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);
/// Longest delay between retries of a key that keeps failing.
pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(300);

/// Where a delay too long for the clock is capped (about 30 years).
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// A deduplicating queue of keys with delayed adds. Cheap to clone (shared).
#[derive(Debug)]
pub struct WorkQueue<K> {
    inner: Arc<Shared<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: self.inner.clone(),
        }
    }
}

#[derive(Debug)]
struct Shared<K> {
    state: Mutex<State<K>>,
    /// Wakes workers waiting for a key.
    ready: Notify,
    /// Wakes the timer when an earlier due time arrives.
    timer: Notify,
}

#[derive(Debug)]
struct State<K> {
    queue: VecDeque<K>,
    /// Keys in `queue`.
    queued: HashSet<K>,
    /// Keys a worker holds.
    processing: HashSet<K>,
    /// Keys added while a worker held them: queued when it is done.
    dirty: HashSet<K>,
    /// Delayed adds, by due time.
    delayed: BTreeMap<Instant, Vec<K>>,
    /// Failures in a row of keys whose work failed (at most one entry per key).
    failures: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    pub fn new() -> WorkQueue<K> {
        WorkQueue {
            inner: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    queued: HashSet::new(),
                    processing: HashSet::new(),
                    dirty: HashSet::new(),
                    delayed: BTreeMap::new(),
                    failures: HashMap::new(),
                }),
                ready: Notify::new(),
                timer: Notify::new(),
            }),
        }
    }

    /// Queues `key` unless it is already queued (or marks it to be queued again when a worker
    /// holds it).
    pub fn add(&self, key: K) {
        let mut state = self.inner.state.lock();
        if state.processing.contains(&key) {
            state.dirty.insert(key);
            return;
        }
        if state.queued.insert(key.clone()) {
            state.queue.push_back(key);
            drop(state);
            self.inner.ready.notify_one();
        }
    }

    /// Queues `key` once `delay` has passed (the timer from [`WorkQueue::run_timer`] must run).
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let now = Instant::now();
        // A delay past the end of time (a TTL of `i32::MAX` seconds is fine) waits for the
        // longest the clock can represent from now.
        let due = now
            .checked_add(delay)
            .or_else(|| now.checked_add(FAR_FUTURE))
            .unwrap_or(now);
        let mut state = self.inner.state.lock();
        let earliest = state.delayed.keys().next().is_none_or(|first| due < *first);
        state.delayed.entry(due).or_default().push(key);
        drop(state);
        if earliest {
            self.inner.timer.notify_one();
        }
    }

    /// Queues `key` again after a backoff that doubles with each failure in a row (from
    /// [`RETRY_BASE_DELAY`] up to [`RETRY_MAX_DELAY`]); returns that delay.
    pub fn retry(&self, key: K) -> Duration {
        let failures = {
            let mut state = self.inner.state.lock();
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures = failures.saturating_add(1);
            *failures
        };
        let delay = backoff(failures);
        self.add_after(key, delay);
        delay
    }

    /// Forgets `key`'s failures: its next failure waits [`RETRY_BASE_DELAY`] again.
    pub fn forget(&self, key: &K) {
        self.inner.state.lock().failures.remove(key);
    }

    /// The next key; waits for one. The caller must call [`WorkQueue::done`] with it.
    pub async fn next(&self) -> K {
        loop {
            let notified = self.inner.ready.notified();
            {
                let mut state = self.inner.state.lock();
                if let Some(key) = state.queue.pop_front() {
                    state.queued.remove(&key);
                    state.processing.insert(key.clone());
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Ends the processing of `key`; queues it again if it was added meanwhile.
    pub fn done(&self, key: &K) {
        let mut state = self.inner.state.lock();
        state.processing.remove(key);
        if state.dirty.remove(key) && state.queued.insert(key.clone()) {
            state.queue.push_back(key.clone());
            drop(state);
            self.inner.ready.notify_one();
        }
    }

    /// Moves delayed keys into the queue when they are due, until `stop` is cancelled.
    pub async fn run_timer(self, stop: CancellationToken) {
        loop {
            let notified = self.inner.timer.notified();
            let (due_keys, next_due) = {
                let mut state = self.inner.state.lock();
                let now = Instant::now();
                let after_now = now.checked_add(Duration::from_nanos(1)).unwrap_or(now);
                let later = state.delayed.split_off(&after_now);
                let due = std::mem::replace(&mut state.delayed, later);
                (
                    due.into_values().flatten().collect::<Vec<_>>(),
                    state.delayed.keys().next().copied(),
                )
            };
            for key in due_keys {
                self.add(key);
            }
            let wake = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = notified => {}
                () = wake => {}
            }
        }
    }
}

/// The wait before retry number `failures` (1 for the first).
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    RETRY_BASE_DELAY
        .saturating_mul(1 << doublings)
        .min(RETRY_MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        assert_eq!(backoff(1), RETRY_BASE_DELAY);
        assert_eq!(backoff(2), RETRY_BASE_DELAY * 2);
        assert_eq!(backoff(4), RETRY_BASE_DELAY * 8);
        assert_eq!(backoff(30), RETRY_MAX_DELAY);
        assert_eq!(backoff(u32::MAX), RETRY_MAX_DELAY);
    }

    #[tokio::test]
    async fn a_failing_key_waits_longer_each_time_until_forgotten() {
        let queue: WorkQueue<&str> = WorkQueue::new();
        assert_eq!(queue.retry("a"), RETRY_BASE_DELAY);
        assert_eq!(queue.retry("a"), RETRY_BASE_DELAY * 2);
        queue.forget(&"a");
        assert_eq!(queue.retry("a"), RETRY_BASE_DELAY);
        assert_eq!(queue.inner.state.lock().failures.len(), 1);
    }

    #[tokio::test]
    async fn a_key_added_twice_is_handed_out_once() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(queue.next().await, "a");
        assert_eq!(queue.next().await, "b");
        let state = queue.inner.state.lock();
        assert!(state.queue.is_empty());
    }

    #[tokio::test]
    async fn a_key_added_while_processed_comes_back_after_done() {
        let queue = WorkQueue::new();
        queue.add("a");
        let key = queue.next().await;
        queue.add("a");
        assert!(queue.inner.state.lock().queue.is_empty());
        queue.done(&key);
        assert_eq!(queue.next().await, "a");
    }

    #[tokio::test]
    async fn delayed_keys_arrive_in_due_order_after_their_delay() {
        let queue = WorkQueue::new();
        let stop = CancellationToken::new();
        tokio::spawn(queue.clone().run_timer(stop.clone()));
        let start = Instant::now();
        queue.add_after("late", Duration::from_millis(300));
        queue.add_after("early", Duration::from_millis(100));
        assert_eq!(queue.next().await, "early");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(queue.next().await, "late");
        assert!(start.elapsed() >= Duration::from_millis(300));
        stop.cancel();
    }
}
