//! The bounded ring of recent changes of one cached prefix, in revision order.

use std::collections::VecDeque;
use std::sync::Arc;

use super::change::Change;
use crate::Revision;

/// The last `capacity` changes under one prefix.
///
/// Invariant: every change under the prefix with a revision greater than [`History::oldest`]
/// and not greater than the state's revision is in the ring, in revision order.
#[derive(Debug)]
pub(crate) struct History {
    changes: VecDeque<Arc<Change>>,
    capacity: usize,
    oldest: Revision,
}

impl History {
    /// An empty history that starts at `revision` (the revision the state was listed at).
    pub fn starting_at(revision: Revision, capacity: usize) -> History {
        History {
            changes: VecDeque::new(),
            capacity,
            oldest: revision,
        }
    }

    /// The oldest revision this history can resume from: a watch may start after it, a read
    /// may be served at it or later.
    pub fn oldest(&self) -> Revision {
        self.oldest
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Appends a change newer than every change held, forgetting the oldest one when full.
    pub fn push(&mut self, change: Arc<Change>) {
        debug_assert!(
            self.changes
                .back()
                .is_none_or(|last| last.revision() < change.revision())
        );
        if self.changes.len() == self.capacity
            && let Some(evicted) = self.changes.pop_front()
        {
            self.oldest = evicted.revision();
        }
        self.changes.push_back(change);
    }

    /// Forgets every change at or before `revision`, as a backend compaction would.
    pub fn compact(&mut self, revision: Revision) {
        let cut = self.changes.partition_point(|c| c.revision() <= revision);
        self.changes.drain(..cut);
        self.oldest = self.oldest.max(revision);
    }

    /// The changes with a revision greater than `after`, oldest first. The caller checks
    /// `after >= oldest()` first; otherwise changes are missing from the front.
    pub fn since(&self, after: Revision) -> impl Iterator<Item = &Arc<Change>> {
        let start = self.changes.partition_point(|c| c.revision() <= after);
        self.changes.range(start..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;
    use crate::cache::change::Object;
    use bytes::Bytes;

    fn change(revision: Revision) -> Arc<Change> {
        Arc::new(Change {
            key: Arc::from("/g/p/k"),
            event_type: EventType::Updated,
            object: Object {
                value: Bytes::from_static(b"v"),
                create_revision: 1,
                mod_revision: revision,
            },
            prev: None,
        })
    }

    fn revisions<'a>(it: impl Iterator<Item = &'a Arc<Change>>) -> Vec<Revision> {
        it.map(|c| c.revision()).collect()
    }

    #[test]
    fn a_full_ring_forgets_its_oldest_change_and_moves_its_start() {
        let mut history = History::starting_at(10, 3);
        for revision in [11, 13, 14] {
            history.push(change(revision));
        }
        assert_eq!(history.oldest(), 10);
        history.push(change(20));
        assert_eq!(history.oldest(), 11);
        assert_eq!(history.len(), 3);
        assert_eq!(revisions(history.since(11)), vec![13, 14, 20]);
        assert_eq!(revisions(history.since(12)), vec![13, 14, 20]);
        assert_eq!(revisions(history.since(14)), vec![20]);
        assert_eq!(revisions(history.since(20)), Vec::<Revision>::new());
    }

    #[test]
    fn compaction_forgets_changes_up_to_the_revision() {
        let mut history = History::starting_at(1, 10);
        for revision in [2, 3, 5, 8] {
            history.push(change(revision));
        }
        history.compact(4);
        assert_eq!(history.oldest(), 4);
        assert_eq!(revisions(history.since(4)), vec![5, 8]);
        history.compact(2);
        assert_eq!(history.oldest(), 4, "compaction never moves the start back");
    }
}
