//! The registry budget (`--max-pulls-per-registry N`): across all jobs, at most N tasks pull
//! from one registry host at a time, so many jobs at once do not flood one registry into its
//! rate limits. 0 means unlimited (no bookkeeping at all).
//!
//! A task counts from the moment it is handed to a node until the node reports a result for
//! that version (the same "active" as a job's `status.active`), whatever job owns it: the
//! count is taken from the cache's NodeImages, plus the slots granted whose NodeImage writes
//! are still in flight (so two reconciles at once cannot both take the last slot).
//!
//! Fair sharing: while other jobs wait for a host, slots go round-robin, one per turn, to
//! the waiting jobs in the order they started waiting; a job alone on a host takes every
//! free slot (up to its `parallelism`). A job that gets a slot, or that no longer wants one
//! (finished, deleted, past its deadline), passes the turn on by queueing the next waiting
//! job, so freed slots are handed out by events, never by polling.

#![deny(clippy::arithmetic_side_effects)]

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use prepull_api::reference::ImageReference;

use super::cache::{Cache, JobKey};
use super::node_task;

/// The budget shared by every job of one scheduler.
#[derive(Debug)]
pub struct RegistryBudget {
    /// Pulls at a time per registry host; 0: unlimited.
    limit: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per host: jobs waiting for a slot, longest waiting first.
    waiting: BTreeMap<String, VecDeque<JobKey>>,
    /// Per host: slots granted whose tasks are not in the cache yet.
    in_flight: BTreeMap<String, usize>,
}

/// What [`RegistryBudget::take`] decided for one job. Its slots count as in flight until it
/// is dropped (by then the tasks are written and in the cache, or were not written).
#[derive(Debug)]
pub struct Grant<'a> {
    /// New tasks the job may hand out now.
    pub slots: usize,
    /// Jobs to reconcile now: the next in turn, where slots are free for them.
    pub wake: Vec<JobKey>,
    held: Option<(&'a RegistryBudget, String)>,
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        if let Some((budget, host)) = self.held.take() {
            budget.landed(&host, self.slots);
        }
    }
}

impl RegistryBudget {
    /// A budget of `limit` pulls at a time per registry host (0: unlimited).
    pub fn new(limit: usize) -> RegistryBudget {
        RegistryBudget {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    /// The limit per host, when there is one.
    pub fn limit(&self) -> Option<usize> {
        (self.limit > 0).then_some(self.limit)
    }

    /// How many of the `wanted` new tasks on registry `host` the job `key` may hand out now,
    /// given the tasks active in `cache` (whose lock the caller holds). Granted slots count
    /// as in flight until the grant is dropped.
    pub fn take(&self, cache: &Cache, host: &str, key: &JobKey, wanted: usize) -> Grant<'_> {
        if self.limit == 0 {
            return Grant {
                slots: wanted,
                wake: Vec::new(),
                held: None,
            };
        }
        let mut state = self.state.lock();
        let in_flight = state.in_flight.get(host).copied().unwrap_or(0);
        let active = active_on(cache, host).saturating_add(in_flight);
        let mut free = self.limit.saturating_sub(active);
        let queue = state.waiting.entry(host.to_owned()).or_default();
        let position = queue.iter().position(|waiting| waiting == key);
        let others = queue.len().saturating_sub(usize::from(position.is_some()));
        let slots = if wanted == 0 {
            0
        } else if others == 0 {
            wanted.min(free)
        } else if position == Some(0) && free > 0 {
            1
        } else {
            0
        };
        free = free.saturating_sub(slots);
        // Where the job waits now: leaves when satisfied, goes to the back after its turn,
        // joins at the back when it starts waiting, else keeps its place.
        let satisfied = slots >= wanted;
        match (position, satisfied) {
            (Some(at), true) => {
                queue.remove(at);
            }
            (Some(at), false) if slots > 0 => {
                queue.remove(at);
                queue.push_back(key.clone());
            }
            (None, false) => queue.push_back(key.clone()),
            _ => {}
        }
        let wake = match queue.front() {
            Some(front) if free > 0 && front != key => vec![front.clone()],
            _ => Vec::new(),
        };
        if queue.is_empty() {
            state.waiting.remove(host);
        }
        if slots > 0 {
            let entry = state.in_flight.entry(host.to_owned()).or_default();
            *entry = entry.saturating_add(slots);
        }
        Grant {
            slots,
            wake,
            held: (slots > 0).then(|| (self, host.to_owned())),
        }
    }

    /// The `granted` slots of one grant on `host` are now in the cache as tasks (or were not
    /// used).
    fn landed(&self, host: &str, granted: usize) {
        if self.limit == 0 || granted == 0 {
            return;
        }
        let mut state = self.state.lock();
        if let Some(count) = state.in_flight.get_mut(host) {
            *count = count.saturating_sub(granted);
            if *count == 0 {
                state.in_flight.remove(host);
            }
        }
    }

    /// The job `key` wants no slot anywhere (finished, deleted, past its deadline): it leaves
    /// every queue. Returns the job first in line on every host: the job's tasks may have
    /// gone with it, freeing slots.
    pub fn leave(&self, key: &JobKey) -> Vec<JobKey> {
        if self.limit == 0 {
            return Vec::new();
        }
        let mut state = self.state.lock();
        state.waiting.retain(|_, queue| {
            queue.retain(|waiting| waiting != key);
            !queue.is_empty()
        });
        state
            .waiting
            .values()
            .filter_map(|queue| queue.front().cloned())
            .collect()
    }

    /// Jobs waiting for a slot on `host`.
    pub fn waiting_on(&self, host: &str) -> usize {
        self.state.lock().waiting.get(host).map_or(0, VecDeque::len)
    }
}

/// The registry host of a NodeImage image name or job image (`docker.io` for Docker Hub
/// names); `None` when it does not parse.
pub fn host_of(image: &str) -> Option<String> {
    ImageReference::parse(image)
        .ok()
        .map(|reference| reference.domain().to_owned())
}

/// Tasks handed to nodes for images on `host` without a result at their version yet, over
/// every NodeImage in `cache`.
pub fn active_on(cache: &Cache, host: &str) -> usize {
    let mut active = 0usize;
    for node in cache.nodes() {
        let node = &node.object;
        for (image, spec) in &node.spec.images {
            if host_of(image).as_deref() != Some(host) {
                continue;
            }
            for tag in &spec.tags {
                if !node_task::tag_finished(node, image, &tag.tag, tag.version) {
                    active = active.saturating_add(1);
                }
            }
        }
    }
    active
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> JobKey {
        JobKey {
            namespace: "default".to_owned(),
            name: name.to_owned(),
        }
    }

    const HOST: &str = "registry.example:5000";

    #[test]
    fn unlimited_grants_what_is_wanted_and_keeps_no_queue() {
        let budget = RegistryBudget::new(0);
        let grant = budget.take(&Cache::default(), HOST, &key("a"), 7);
        assert_eq!(grant.slots, 7);
        assert_eq!(budget.waiting_on(HOST), 0);
        assert!(budget.leave(&key("a")).is_empty());
    }

    #[test]
    fn a_job_alone_takes_every_free_slot_and_waits_for_the_rest() {
        let budget = RegistryBudget::new(2);
        let cache = Cache::default();
        let grant = budget.take(&cache, HOST, &key("a"), 5);
        assert_eq!(grant.slots, 2);
        assert_eq!(budget.waiting_on(HOST), 1, "a still wants 3");
        // The two granted slots are in flight while the grant is held.
        assert_eq!(budget.take(&cache, HOST, &key("a"), 3).slots, 0);
        drop(grant);
        // Landed but not in the cache (this test's cache is empty): as if both finished.
        assert_eq!(budget.take(&cache, HOST, &key("a"), 3).slots, 2);
    }

    #[test]
    fn waiting_jobs_take_turns_one_slot_each() {
        let budget = RegistryBudget::new(2);
        let cache = Cache::default();
        // a takes both; b and c queue behind a.
        let first = budget.take(&cache, HOST, &key("a"), 10);
        assert_eq!(first.slots, 2);
        assert_eq!(budget.take(&cache, HOST, &key("b"), 10).slots, 0);
        assert_eq!(budget.take(&cache, HOST, &key("c"), 10).slots, 0);
        drop(first);
        // Two slots free. a is first in line: it takes one, goes to the back, wakes b.
        let a = budget.take(&cache, HOST, &key("a"), 10);
        assert_eq!((a.slots, a.wake.clone()), (1, vec![key("b")]));
        // c is not first: it gets nothing and wakes b, who is.
        let c = budget.take(&cache, HOST, &key("c"), 10);
        assert_eq!((c.slots, c.wake.clone()), (0, vec![key("b")]));
        let b = budget.take(&cache, HOST, &key("b"), 10);
        assert_eq!(b.slots, 1);
        assert!(b.wake.is_empty(), "no slot is left to wake anyone for");
        drop((a, b, c));
        // Next round: c is first now.
        assert_eq!(budget.take(&cache, HOST, &key("a"), 10).slots, 0);
        assert_eq!(budget.take(&cache, HOST, &key("c"), 10).slots, 1);
    }

    #[test]
    fn a_job_that_leaves_passes_its_turn_on() {
        let budget = RegistryBudget::new(1);
        let cache = Cache::default();
        let a = budget.take(&cache, HOST, &key("a"), 3);
        assert_eq!(a.slots, 1);
        assert_eq!(budget.take(&cache, HOST, &key("b"), 3).slots, 0);
        assert_eq!(budget.leave(&key("a")), vec![key("b")]);
        drop(a);
        assert_eq!(budget.take(&cache, HOST, &key("b"), 3).slots, 1);
        // Wanting nothing leaves the queue too.
        assert_eq!(budget.take(&cache, HOST, &key("b"), 0).slots, 0);
        assert_eq!(budget.waiting_on(HOST), 0);
    }

    #[test]
    fn hosts_have_separate_budgets() {
        let budget = RegistryBudget::new(1);
        let cache = Cache::default();
        let registry = budget.take(&cache, HOST, &key("a"), 3);
        assert_eq!(registry.slots, 1);
        assert_eq!(budget.take(&cache, "docker.io", &key("a"), 3).slots, 1);
        assert_eq!(host_of("nginx").as_deref(), Some("docker.io"));
        assert_eq!(
            host_of("localhost:5000/x:1").as_deref(),
            Some("localhost:5000")
        );
    }
}
