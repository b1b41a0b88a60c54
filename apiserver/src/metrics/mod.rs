//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! Series, named as kube-apiserver names them where it has an equivalent:
//! - `apiserver_request_total{verb,group,version,resource,subresource,scope,component,code}`
//! - `apiserver_request_duration_seconds{verb,group,version,resource,subresource,scope,component}`
//!   (histogram; a watch is observed when it ends, over its whole life)
//! - `apiserver_longrunning_requests{...}` and `apiserver_registered_watchers{group,version,kind}`
//!   (gauges of open watches)
//! - `prepull_storage_request_duration_seconds{operation,backend}` (histogram)
//! - `apiserver_dropped_requests_total{request_kind}` (`readOnly` / `mutating`: requests
//!   answered 429 because the in-flight cap was reached)
//! - `leader_election_master_status{name="prepull-scheduler"}` (1 while this replica runs the
//!   scheduler, 0 otherwise; client-go's name, so leader-election alerts work unchanged)
//!
//! [`Metrics`] is the handle: [`Metrics::layer`] records every request passing through the
//! router, [`MeteredStorage`] (or [`Metrics::observe_storage`]) records storage calls,
//! [`Metrics::routes`] serves `/metrics`. Built on `prometheus-client` (the Prometheus project's Rust client: explicit
//! registries, no global state, no HTTP server of its own).

mod labels;
mod layer;
mod storage;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use labels::{CodedRequestLabels, RequestLabels, StorageLabels, WatcherLabels};
pub use layer::{MetricsLayer, MetricsService, WatchGuard};
pub use storage::MeteredStorage;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// kube-apiserver's request latency buckets, so existing dashboards read ours the same way.
const REQUEST_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Storage calls are often sub-millisecond (embedded store, watch cache).
const STORAGE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `name` label of the scheduler's election in `leader_election_master_status`.
pub const SCHEDULER_ELECTION: &str = "prepull-scheduler";

/// Labels of `leader_election_master_status`.
type ElectionLabels = Vec<(&'static str, &'static str)>;

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn storage_histogram() -> Histogram {
    Histogram::new(STORAGE_BUCKETS)
}

/// The server's metrics. Cheap to clone; clones share the series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<CodedRequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    longrunning: Family<RequestLabels, Gauge>,
    watchers: Family<WatcherLabels, Gauge>,
    storage: Family<StorageLabels, Histogram, fn() -> Histogram>,
    leader: Family<ElectionLabels, Gauge>,
    dropped: Family<DroppedLabels, Counter>,
}

/// Labels of `apiserver_dropped_requests_total`.
type DroppedLabels = Vec<(&'static str, &'static str)>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every series family registered (no samples yet, but the dropped
    /// requests counters at 0).
    pub fn new() -> Metrics {
        let requests = Family::<CodedRequestLabels, Counter>::default();
        let durations = Family::new_with_constructor(request_histogram as fn() -> Histogram);
        let longrunning = Family::<RequestLabels, Gauge>::default();
        let watchers = Family::<WatcherLabels, Gauge>::default();
        let storage = Family::new_with_constructor(storage_histogram as fn() -> Histogram);
        let leader = Family::<ElectionLabels, Gauge>::default();
        let dropped = Family::<DroppedLabels, Counter>::default();
        let mut registry = Registry::default();
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and response code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency by verb and resource; watches are observed when they end",
            durations.clone(),
        );
        registry.register(
            "apiserver_longrunning_requests",
            "Requests in progress that stream (watches)",
            longrunning.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Open watches by kind",
            watchers.clone(),
        );
        registry.register(
            "prepull_storage_request_duration_seconds",
            "Storage call latency by operation and backend",
            storage.clone(),
        );
        registry.register(
            "leader_election_master_status",
            "Whether this replica leads the named election (1) or not (0)",
            leader.clone(),
        );
        registry.register(
            "apiserver_dropped_requests",
            "Requests refused with 429 because the in-flight cap was reached",
            dropped.clone(),
        );
        // Both request kinds are exposed from the start (at 0), so the alert on drops has a
        // series before the first one.
        for kind in ["readOnly", "mutating"] {
            let _ = dropped.get_or_create(&vec![("request_kind", kind)]);
        }
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                longrunning,
                watchers,
                storage,
                leader,
                dropped,
            }),
        }
    }

    /// Records one finished request.
    pub fn observe_request(&self, labels: &RequestLabels, code: u16, elapsed: Duration) {
        self.inner
            .requests
            .get_or_create(&CodedRequestLabels {
                request: labels.clone(),
                code: code.to_string(),
            })
            .inc();
        self.inner
            .durations
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one storage call, e.g. `observe_storage("get", "etcd", elapsed)`.
    pub fn observe_storage(&self, operation: &str, backend: &str, elapsed: Duration) {
        self.inner
            .storage
            .get_or_create(&StorageLabels {
                operation: operation.to_string(),
                backend: backend.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Runs a storage call and records how long it took, whatever its outcome.
    pub async fn time_storage<F: Future>(
        &self,
        operation: &str,
        backend: &str,
        call: F,
    ) -> F::Output {
        let start = tokio::time::Instant::now();
        let output = call.await;
        self.observe_storage(operation, backend, start.elapsed());
        output
    }

    /// Counts a request refused by the in-flight cap of its kind.
    pub fn record_rejected_in_flight(&self, mutating: bool) {
        let kind = if mutating { "mutating" } else { "readOnly" };
        self.inner
            .dropped
            .get_or_create(&vec![("request_kind", kind)])
            .inc();
    }

    /// Records whether this replica runs the scheduler (leads its election).
    pub fn set_scheduler_leading(&self, leading: bool) {
        self.inner
            .leader
            .get_or_create(&vec![("name", SCHEDULER_ELECTION)])
            .set(i64::from(leading));
    }

    /// Counts a watch as open until the returned guard is dropped, which then records it as a
    /// finished request lasting from `start`.
    pub fn watch_started(
        &self,
        labels: RequestLabels,
        code: u16,
        start: tokio::time::Instant,
    ) -> WatchGuard {
        WatchGuard::new(self.clone(), labels, code, start)
    }

    /// The middleware recording every request of the router it wraps. Apply it so that it runs
    /// after the request's [`crate::http::request_info::RequestInfo`] is in the extensions (it
    /// parses one itself otherwise).
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.clone())
    }

    /// The exposition, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// The `/metrics` route. It carries its own state, so it merges into any router.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            crate::http::discovery::only_get(get(move || {
                let metrics = metrics.clone();
                async move { metrics.exposition() }
            })),
        )
    }

    fn exposition(&self) -> Response {
        let mut response = self.encode().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }

    fn watch_opened(&self, labels: &RequestLabels) {
        self.inner.longrunning.get_or_create(labels).inc();
        self.inner.watchers.get_or_create(&labels.watcher()).inc();
    }

    fn watch_closed(&self, labels: &RequestLabels) {
        self.inner.longrunning.get_or_create(labels).dec();
        self.inner.watchers.get_or_create(&labels.watcher()).dec();
    }
}

#[cfg(test)]
mod tests;
