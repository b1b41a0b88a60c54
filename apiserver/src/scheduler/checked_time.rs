//! Time arithmetic on values that come from users (`activeDeadlineSeconds`,
//! `ttlSecondsAfterFinished`) and from nodes (status times): it saturates instead of
//! panicking, so a job with a deadline of `i64::MAX` seconds, or a node reporting a pull
//! finished in the year 9999, only ever gives a time that is very far away.
//!
//! The scheduler denies `clippy::arithmetic_side_effects`: every sum of times, durations or
//! counters in it goes through here or through an explicitly checked or saturating call.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::time::Duration;

/// `at + by`, saturating at the ends of the representable range.
pub fn later(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `at` plus `seconds` seconds, saturating.
pub fn seconds_after(at: Timestamp, seconds: i64) -> Timestamp {
    later(at, SignedDuration::from_secs(seconds))
}

/// How long from `now` until `then` (zero when it has passed), as a tokio duration.
pub fn time_until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or_default()
}

/// A little past `now` until `then`, so that the pass that runs then sees it has passed.
pub fn until(now: Timestamp, then: Timestamp) -> Duration {
    time_until(now, then).saturating_add(Duration::from_millis(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_past_the_end_of_time_saturate() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(seconds_after(now, i64::MAX), Timestamp::MAX);
        assert_eq!(seconds_after(now, i64::MIN), Timestamp::MIN);
        assert_eq!(seconds_after(Timestamp::MAX, 1), Timestamp::MAX);
        assert_eq!(
            seconds_after(now, 60),
            Timestamp::from_second(1_700_000_060).unwrap()
        );
    }

    #[test]
    fn waits_are_never_negative_and_never_overflow() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(time_until(now, Timestamp::MIN), Duration::ZERO);
        assert!(until(now, Timestamp::MAX) > Duration::from_secs(100 * 365 * 24 * 3600));
        assert_eq!(until(now, now), Duration::from_millis(10));
    }
}
