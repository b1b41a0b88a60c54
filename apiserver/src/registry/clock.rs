//! Where the registry's wall-clock time comes from (creationTimestamp, deletionTimestamp,
//! managedFields times, NodeImage tag `createdAt` defaults).
//!
//! Timestamps are wall-clock instants, which tokio's pausable clock cannot supply; tests that
//! need a fixed or moving "now" use [`ManualClock`] instead.

use parking_lot::Mutex;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A source of "now".
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// The current instant as an API `Time`, truncated to whole seconds (the precision of the
    /// wire format), so that an object read back equals the one that was written.
    fn now_time(&self) -> Time {
        let now = self.now();
        Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock();
        *now = now.checked_add(by).expect("clock stays in range");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_time_drops_sub_second_precision() {
        let clock = ManualClock::new(Timestamp::from_millisecond(1_700_000_000_750).unwrap());
        assert_eq!(clock.now_time().0.as_second(), 1_700_000_000);
        assert_eq!(clock.now_time().0.subsec_nanosecond(), 0);
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
        assert_eq!(clock.now(), Timestamp::UNIX_EPOCH);
        clock.advance(SignedDuration::from_secs(90));
        assert_eq!(clock.now().as_second(), 90);
    }
}
