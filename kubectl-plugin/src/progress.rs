//! A pull's progress as a bar, a rate and an ETA. The agents report percent (containerd's
//! bytes arrived over bytes expected across the layers seen), so the rate is percent per
//! second since the pull started, and the ETA the rest at that rate.

use jiff::{SignedDuration, Timestamp};

use crate::model::NodePull;

/// Width of the bar between its brackets.
pub const BAR_WIDTH: usize = 24;

/// `[#########---------------]`: `percent` (clamped to 0..=100) of `width` cells filled.
pub fn bar(percent: i32, width: usize) -> String {
    let percent = usize::try_from(percent.clamp(0, 100)).unwrap_or(0);
    let filled = (percent * width + 50) / 100;
    let filled = if percent < 100 {
        filled.min(width.saturating_sub(1))
    } else {
        width
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

/// How long the pull has run (to its completion, or to `now`).
pub fn elapsed(pull: &NodePull, now: Timestamp) -> Option<SignedDuration> {
    let start = pull.start_time?;
    let end = pull.completion_time.unwrap_or(now);
    let took = end.duration_since(start);
    (!took.is_negative()).then_some(took)
}

/// Percent per second since the start, while that says something (some progress, some time).
pub fn rate(pull: &NodePull, now: Timestamp) -> Option<f64> {
    let seconds = elapsed(pull, now)?.as_secs_f64();
    (pull.progress > 0 && seconds >= 0.5).then(|| f64::from(pull.progress) / seconds)
}

/// The time left at the rate so far, for a pull in progress.
pub fn eta(pull: &NodePull, now: Timestamp) -> Option<SignedDuration> {
    if pull.phase != "Pulling" || pull.progress >= 100 {
        return None;
    }
    let rate = rate(pull, now)?;
    let seconds = f64::from(100 - pull.progress) / rate;
    (seconds.is_finite() && seconds < 1e9).then(|| SignedDuration::from_secs_f64(seconds))
}

/// `3s`, `2m05s`, `1h02m`.
pub fn short_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull(phase: &str, progress: i32, start: i64, end: Option<i64>) -> NodePull {
        NodePull {
            node: "n".into(),
            image: "i".into(),
            phase: phase.into(),
            progress,
            start_time: Some(Timestamp::from_second(start).unwrap()),
            completion_time: end.map(|e| Timestamp::from_second(e).unwrap()),
            message: String::new(),
        }
    }

    #[test]
    fn bars_fill_with_the_percent_and_are_full_only_at_100() {
        assert_eq!(bar(0, 10), "[----------]");
        assert_eq!(bar(50, 10), "[#####-----]");
        assert_eq!(bar(99, 10), "[#########-]");
        assert_eq!(bar(100, 10), "[##########]");
        assert_eq!(bar(-5, 4), "[----]");
        assert_eq!(bar(250, 4), "[####]");
    }

    #[test]
    fn rate_and_eta_follow_the_progress_since_the_start() {
        let now = Timestamp::from_second(1_000_040).unwrap();
        let p = pull("Pulling", 40, 1_000_000, None);
        assert_eq!(rate(&p, now), Some(1.0));
        assert_eq!(eta(&p, now), Some(SignedDuration::from_secs(60)));
        // No progress yet: no rate, no ETA.
        assert_eq!(rate(&pull("Pulling", 0, 1_000_000, None), now), None);
        // Finished: the rate over its whole run, no ETA.
        let done = pull("Succeeded", 100, 1_000_000, Some(1_000_010));
        assert_eq!(rate(&done, now), Some(10.0));
        assert_eq!(eta(&done, now), None);
        // A clock behind the start says nothing.
        assert_eq!(elapsed(&pull("Pulling", 10, 1_000_100, None), now), None);
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(SignedDuration::from_secs(3)), "3s");
        assert_eq!(short_duration(SignedDuration::from_secs(125)), "2m05s");
        assert_eq!(short_duration(SignedDuration::from_secs(3720)), "1h02m");
    }
}
