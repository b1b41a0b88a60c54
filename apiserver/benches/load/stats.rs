//! Latency samples and their summary.

use std::time::Duration;

use serde_json::{Value, json};

/// Latencies of one phase and how long the phase took.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
}

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.latencies.push(latency);
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.latencies.len()
    }

    /// The `q` quantile (0.0-1.0), nearest rank.
    fn quantile(sorted: &[Duration], q: f64) -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// `{count, p50_ms, p99_ms, max_ms, throughput_per_s}` for a phase that took `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Value {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        json!({
            "count": sorted.len(),
            "p50_ms": ms(Self::quantile(&sorted, 0.50)),
            "p99_ms": ms(Self::quantile(&sorted, 0.99)),
            "max_ms": ms(sorted.last().copied().unwrap_or_default()),
            "elapsed_s": (elapsed.as_secs_f64() * 1e3).round() / 1e3,
            "throughput_per_s": (sorted.len() as f64 / elapsed.as_secs_f64()).round() as u64,
        })
    }
}
