//! Latency samples and their summary.

use std::time::Duration;

use serde_json::{Value, json};

/// Latencies of one measurement.
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

    /// The `q` quantile (0.0–1.0), nearest rank; zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// `{count, p50_ms, p99_ms, max_ms, elapsed_s, per_second}` for a measurement that took
    /// `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Value {
        json!({
            "count": self.len(),
            "p50_ms": ms(self.quantile(0.50)),
            "p99_ms": ms(self.quantile(0.99)),
            "max_ms": ms(self.quantile(1.0)),
            "elapsed_s": round3(elapsed.as_secs_f64()),
            "per_second": round3(self.len() as f64 / elapsed.as_secs_f64().max(1e-9)),
        })
    }
}

/// Milliseconds with microsecond precision.
pub fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1e3)
}

pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut samples = Samples::default();
        for ms in 1..=100 {
            samples.push(Duration::from_millis(ms));
        }
        assert_eq!(samples.quantile(0.5), Duration::from_millis(50));
        assert_eq!(samples.quantile(0.99), Duration::from_millis(99));
        assert_eq!(samples.quantile(1.0), Duration::from_millis(100));
        assert_eq!(Samples::default().quantile(0.5), Duration::ZERO);
    }
}
