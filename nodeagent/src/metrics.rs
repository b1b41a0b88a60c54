//! The agent's Prometheus metrics, served at `/metrics` on the health port in the OpenMetrics
//! text format (built on `prometheus-client`, as the API server's are).
//!
//! Series:
//! - `prepull_nodeagent_pulls_total{result}`: finished pulls, `result` = `succeeded` | `failed`
//!   (an IfNotPresent tag found present counts as succeeded; cancelled pulls are not counted).
//! - `prepull_nodeagent_pull_duration_seconds{result}`: histogram of the time from leaving
//!   Waiting to finishing, all attempts and backoff sleeps included.
//! - `prepull_nodeagent_tasks{phase}`: tasks in the table per phase (`Waiting`, `Pulling`,
//!   `Succeeded`, `Failed`), as of the last status the agent computed.
//! - `prepull_nodeagent_status_writes_total{result}`: `/status` merge patches, `result` = `ok`
//!   | `error` (an error is retried with the next write).
//! - `prepull_nodeagent_cri_errors_total{call}`: failed runtime calls, `call` = `PullImage` |
//!   `ImageStatus` | `ListStatuses` (containerd's content API, for progress) | `Images`
//!   (containerd's images API, for pins) | `ImageFsInfo`.
//! - `prepull_nodeagent_stalled_pulls_total`: pull attempts given up because their bytes
//!   stopped arriving for the stall period.
//! - `prepull_nodeagent_disk_reserve_failures_total`: pulls not started or cancelled because the
//!   image filesystem is (or would go) below the free-space reserve.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::task_table::StatusSnapshot;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Pull durations range from milliseconds (present already) to many minutes (large images).
const PULL_BUCKETS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

fn pull_histogram() -> Histogram {
    Histogram::new(PULL_BUCKETS)
}

/// How a pull or a status write ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// A task phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

/// A runtime call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    call: &'static str,
}

/// A CRI (or containerd) call the agent makes, for [`AgentMetrics::cri_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeCall {
    /// CRI `PullImage`.
    PullImage,
    /// CRI `ImageStatus`.
    ImageStatus,
    /// containerd `Content.ListStatuses`.
    ListStatuses,
    /// containerd `Images.Get`, `List` or `Update` (pins).
    Images,
    /// CRI `ImageFsInfo`.
    ImageFsInfo,
}

impl RuntimeCall {
    fn name(self) -> &'static str {
        match self {
            RuntimeCall::PullImage => "PullImage",
            RuntimeCall::ImageStatus => "ImageStatus",
            RuntimeCall::ListStatuses => "ListStatuses",
            RuntimeCall::Images => "Images",
            RuntimeCall::ImageFsInfo => "ImageFsInfo",
        }
    }
}

/// The agent's metrics; cheap to clone, clones share the series.
#[derive(Clone)]
pub struct AgentMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    pulls: Family<ResultLabel, Counter>,
    durations: Family<ResultLabel, Histogram, fn() -> Histogram>,
    tasks: Family<PhaseLabel, Gauge>,
    status_writes: Family<ResultLabel, Counter>,
    cri_errors: Family<CallLabel, Counter>,
    stalled: Counter,
    disk_reserve: Counter,
}

impl std::fmt::Debug for AgentMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentMetrics").finish_non_exhaustive()
    }
}

impl Default for AgentMetrics {
    fn default() -> AgentMetrics {
        AgentMetrics::new()
    }
}

impl AgentMetrics {
    /// A fresh registry with every family registered, the task gauges and the result
    /// counters at 0.
    pub fn new() -> AgentMetrics {
        let pulls = Family::<ResultLabel, Counter>::default();
        let durations = Family::new_with_constructor(pull_histogram as fn() -> Histogram);
        let tasks = Family::<PhaseLabel, Gauge>::default();
        let status_writes = Family::<ResultLabel, Counter>::default();
        let cri_errors = Family::<CallLabel, Counter>::default();
        let stalled = Counter::default();
        let disk_reserve = Counter::default();
        let mut registry = Registry::default();
        registry.register(
            "prepull_nodeagent_pulls",
            "Finished pulls by result",
            pulls.clone(),
        );
        registry.register(
            "prepull_nodeagent_pull_duration_seconds",
            "Time from leaving Waiting to finishing, all attempts included, by result",
            durations.clone(),
        );
        registry.register(
            "prepull_nodeagent_tasks",
            "Tasks of this node by phase",
            tasks.clone(),
        );
        registry.register(
            "prepull_nodeagent_status_writes",
            "Merge patches of the NodeImage status by result",
            status_writes.clone(),
        );
        registry.register(
            "prepull_nodeagent_cri_errors",
            "Failed container runtime calls by call",
            cri_errors.clone(),
        );
        registry.register(
            "prepull_nodeagent_stalled_pulls",
            "Pull attempts given up because no bytes arrived for the stall period",
            stalled.clone(),
        );
        registry.register(
            "prepull_nodeagent_disk_reserve_failures",
            "Pulls not started or cancelled because the image filesystem is below the reserve",
            disk_reserve.clone(),
        );
        let metrics = AgentMetrics {
            inner: Arc::new(Inner {
                registry,
                pulls,
                durations,
                tasks,
                status_writes,
                cri_errors,
                stalled,
                disk_reserve,
            }),
        };
        metrics.set_tasks(&StatusSnapshot::default());
        // Every known label value is exposed from the start (at 0), so rates and alerts over
        // them have a series before the first pull.
        for result in ["succeeded", "failed"] {
            let _ = metrics.inner.pulls.get_or_create(&ResultLabel { result });
            let _ = metrics
                .inner
                .durations
                .get_or_create(&ResultLabel { result });
        }
        for result in ["ok", "error"] {
            let _ = metrics
                .inner
                .status_writes
                .get_or_create(&ResultLabel { result });
        }
        for call in [
            RuntimeCall::PullImage,
            RuntimeCall::ImageStatus,
            RuntimeCall::ListStatuses,
            RuntimeCall::Images,
            RuntimeCall::ImageFsInfo,
        ] {
            let _ = metrics
                .inner
                .cri_errors
                .get_or_create(&CallLabel { call: call.name() });
        }
        metrics
    }

    /// Records a finished pull that took `elapsed`.
    pub fn pull_finished(&self, succeeded: bool, elapsed: Duration) {
        let label = ResultLabel {
            result: if succeeded { "succeeded" } else { "failed" },
        };
        self.inner.pulls.get_or_create(&label).inc();
        self.inner
            .durations
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the task gauges from `snapshot`'s counters.
    pub fn set_tasks(&self, snapshot: &StatusSnapshot) {
        for (phase, count) in [
            ("Waiting", snapshot.waiting),
            ("Pulling", snapshot.pulling),
            ("Succeeded", snapshot.succeeded),
            ("Failed", snapshot.failed),
        ] {
            self.inner
                .tasks
                .get_or_create(&PhaseLabel { phase })
                .set(count.into());
        }
    }

    /// Records one status write.
    pub fn status_written(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.inner
            .status_writes
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Records one failed runtime call.
    pub fn cri_error(&self, call: RuntimeCall) {
        self.inner
            .cri_errors
            .get_or_create(&CallLabel { call: call.name() })
            .inc();
    }

    /// Records one pull attempt given up for a stall.
    pub fn pull_stalled(&self) {
        self.inner.stalled.inc();
    }

    /// Records one pull failed for the disk reserve.
    pub fn disk_reserve_failure(&self) {
        self.inner.disk_reserve.inc();
    }

    /// The exposition, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_shows_what_was_recorded() {
        let metrics = AgentMetrics::new();
        metrics.pull_finished(true, Duration::from_millis(300));
        metrics.pull_finished(false, Duration::from_secs(3));
        metrics.status_written(true);
        metrics.cri_error(RuntimeCall::PullImage);
        metrics.set_tasks(&StatusSnapshot {
            pulling: 2,
            waiting: 4,
            ..StatusSnapshot::default()
        });
        let text = metrics.encode();
        for line in [
            "prepull_nodeagent_pulls_total{result=\"succeeded\"} 1",
            "prepull_nodeagent_pulls_total{result=\"failed\"} 1",
            "prepull_nodeagent_pull_duration_seconds_bucket{le=\"0.5\",result=\"succeeded\"} 1",
            "prepull_nodeagent_tasks{phase=\"Pulling\"} 2",
            "prepull_nodeagent_tasks{phase=\"Waiting\"} 4",
            "prepull_nodeagent_status_writes_total{result=\"ok\"} 1",
            "prepull_nodeagent_cri_errors_total{call=\"PullImage\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
