//! Stall detection: a pull attempt whose bytes have not advanced for the stall period is given
//! up (and retried within backoffLimit) with the message `no bytes received for 120s`. A slow
//! pull that keeps moving is never cut by this; only timeoutSeconds bounds it.
//!
//! Bytes are those containerd reports for the pull's layer downloads
//! ([`crate::download_progress`]), so the clock only runs where the runtime is containerd, and
//! only while one of the pull's downloads is in flight: resolving the manifest and unpacking
//! the layers after the last byte move no bytes and are left to timeoutSeconds. containerd
//! (1.6) reports a download's bytes in steps of about 1 MiB, so the period must be longer than
//! 1 MiB takes at the slowest rate that should count as moving (120 s: about 8.5 KiB/s).
//!
//! The period is `--stall-timeout-seconds` (default 120; 0 turns detection off), or, per image,
//! the annotation [`STALL_TIMEOUT_ANNOTATION`] of its sandbox config in the NodeImage spec (the
//! scheduler copies it there from an ImagePullJob's own annotation of that name).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::download_progress::ProgressEstimate;

/// The annotation setting a job's (or an image's) stall period, in whole seconds; `0` turns
/// detection off for it.
pub const STALL_TIMEOUT_ANNOTATION: &str = "prepull.io/stall-timeout-seconds";
/// The stall period when neither the flag nor an annotation says otherwise.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest period an annotation may ask for (a day).
const MAX_STALL_TIMEOUT_SECONDS: u64 = 86_400;

/// A pull attempt stalled: no bytes for `.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no bytes received for {}s", .0.as_secs())]
pub struct Stalled(pub Duration);

/// The stall period of a pull: `annotations[STALL_TIMEOUT_ANNOTATION]` when it is a whole
/// number of seconds (0 to a day), else `default`. `None` means detection is off.
pub fn stall_period(
    annotations: &HashMap<String, String>,
    default: Option<Duration>,
) -> Option<Duration> {
    match annotations
        .get(STALL_TIMEOUT_ANNOTATION)
        .and_then(|value| value.trim().parse::<u64>().ok())
        .filter(|seconds| *seconds <= MAX_STALL_TIMEOUT_SECONDS)
    {
        Some(0) => None,
        Some(seconds) => Some(Duration::from_secs(seconds)),
        None => default,
    }
}

/// Watches one attempt's bytes.
#[derive(Debug, Clone)]
pub struct StallClock {
    period: Duration,
    /// When the bytes last advanced (or the clock last had nothing in flight to watch).
    since: Instant,
    bytes: u64,
}

impl StallClock {
    /// A clock for an attempt starting at `now` with `estimate` as it stands.
    pub fn start(period: Duration, estimate: &ProgressEstimate, now: Instant) -> StallClock {
        StallClock {
            period,
            since: now,
            bytes: estimate.arrived_bytes(),
        }
    }

    /// Takes in the estimate just observed at `now`: `Err` when a download is in flight and
    /// the bytes have not advanced for the whole period.
    pub fn observe(&mut self, estimate: &ProgressEstimate, now: Instant) -> Result<(), Stalled> {
        let bytes = estimate.arrived_bytes();
        if bytes != self.bytes || estimate.in_flight() == 0 {
            self.bytes = bytes;
            self.since = now;
            return Ok(());
        }
        if now.saturating_duration_since(self.since) >= self.period {
            return Err(Stalled(self.period));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prepull_cri::containerd::services::content::v1::Status;

    fn download(offset: i64) -> Status {
        Status {
            r#ref: "layer-a".into(),
            offset,
            total: 1000,
            expected: String::new(),
        }
    }

    #[test]
    fn a_download_that_does_not_advance_for_the_period_stalls_and_the_message_says_how_long() {
        let start = Instant::now();
        let mut estimate = ProgressEstimate::default();
        estimate.observe(&[download(500)]);
        let mut clock = StallClock::start(Duration::from_secs(120), &estimate, start);
        estimate.observe(&[download(500)]);
        assert_eq!(
            clock.observe(&estimate, start + Duration::from_secs(119)),
            Ok(())
        );
        let stalled = clock
            .observe(&estimate, start + Duration::from_secs(120))
            .expect_err("stalled");
        assert_eq!(stalled.to_string(), "no bytes received for 120s");
    }

    #[test]
    fn a_slow_download_that_keeps_moving_never_stalls() {
        let start = Instant::now();
        let mut estimate = ProgressEstimate::default();
        let mut clock = StallClock::start(Duration::from_secs(10), &estimate, start);
        for second in 1..100 {
            estimate.observe(&[download(second)]);
            let now = start + Duration::from_secs(9 * second.unsigned_abs());
            assert_eq!(clock.observe(&estimate, now), Ok(()), "at {second}");
        }
    }

    #[test]
    fn nothing_in_flight_is_not_a_stall() {
        let start = Instant::now();
        let mut estimate = ProgressEstimate::default();
        let mut clock = StallClock::start(Duration::from_secs(10), &estimate, start);
        estimate.observe(&[]);
        assert_eq!(
            clock.observe(&estimate, start + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn the_annotation_overrides_the_default_and_zero_turns_detection_off() {
        let default = Some(DEFAULT_STALL_TIMEOUT);
        let with =
            |value: &str| HashMap::from([(STALL_TIMEOUT_ANNOTATION.to_owned(), value.to_owned())]);
        assert_eq!(stall_period(&HashMap::new(), default), default);
        assert_eq!(
            stall_period(&with("30"), default),
            Some(Duration::from_secs(30))
        );
        assert_eq!(stall_period(&with("0"), default), None);
        assert_eq!(stall_period(&with("soon"), default), default);
        assert_eq!(stall_period(&with("99999999999"), default), default);
        assert_eq!(
            stall_period(&with("30"), None),
            Some(Duration::from_secs(30))
        );
    }
}
