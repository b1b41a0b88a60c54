//! `/healthz`, `/livez` and `/readyz`: named checks reported the way kube-apiserver reports
//! them, so probes, `kubectl get --raw '/readyz?verbose'` and people read them as usual.
//!
//! - All checks pass: `200 ok`; with `?verbose`, one `[+]<name> ok` line per check then
//!   `<endpoint> check passed`.
//! - A check fails: `500` with the verbose listing, the failing check as
//!   `[-]<name> failed: reason withheld` (these endpoints are public; the reason is logged), then
//!   `<endpoint> check failed`.
//! - `?exclude=<name>` (repeatable) skips a check (`[+]<name> excluded: ok`); names that match
//!   no check are reported in a `warn:` line.
//! - `/<endpoint>/<name>` runs one check: `ok`, or `500 internal server error: <reason>`.
//!
//! `ping` is always there. Checks added with [`HealthChecks::with_check`] count for all three
//! endpoints, those added with [`HealthChecks::with_readiness_check`] for `/readyz` only, which
//! also fails its built-in `shutdown` check once [`HealthChecks::begin_shutdown`] was called, so
//! load balancers stop sending new requests while existing ones drain. A check added with
//! [`HealthChecks::with_check_and_readiness`] runs a stricter test for `/readyz` than for the
//! other two ([`storage`]: live while the backend answers, ready while it takes writes).

pub mod storage;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::discovery::only_get;
use super::status::ApiError;

/// Why a check failed; logged, and shown on the check's own path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

impl From<String> for CheckFailed {
    fn from(reason: String) -> CheckFailed {
        CheckFailed(reason)
    }
}

impl From<&str> for CheckFailed {
    fn from(reason: &str) -> CheckFailed {
        CheckFailed(reason.to_string())
    }
}

/// A check in progress.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), CheckFailed>> + Send>>;

type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// One of the three endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Livez,
    Readyz,
}

impl Endpoint {
    /// The path segment and the name used in the report, e.g. `readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
        }
    }
}

#[derive(Clone)]
struct Check {
    name: String,
    /// What `/healthz` and `/livez` run; `None` for a readiness-only check.
    live: Option<CheckFn>,
    /// What `/readyz` runs.
    ready: CheckFn,
}

impl Check {
    fn for_endpoint(&self, endpoint: Endpoint) -> Option<&CheckFn> {
        match endpoint {
            Endpoint::Readyz => Some(&self.ready),
            Endpoint::Healthz | Endpoint::Livez => self.live.as_ref(),
        }
    }
}

/// The registry of checks, shared by the routes (cheap to clone). Build it at startup, then
/// serve [`HealthChecks::routes`].
#[derive(Clone)]
pub struct HealthChecks {
    checks: Vec<Check>,
    shutting_down: Arc<AtomicBool>,
    timeout: Duration,
}

impl std::fmt::Debug for HealthChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthChecks")
            .field(
                "checks",
                &self.checks.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .field("shutting_down", &self.is_shutting_down())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for HealthChecks {
    fn default() -> HealthChecks {
        HealthChecks::new()
    }
}

/// How long one check may take before it counts as failed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

const SHUTDOWN: &str = "shutdown";

impl HealthChecks {
    /// The `ping` check only.
    pub fn new() -> HealthChecks {
        let checks = HealthChecks {
            checks: Vec::new(),
            shutting_down: Arc::new(AtomicBool::new(false)),
            timeout: DEFAULT_CHECK_TIMEOUT,
        };
        checks.with_check("ping", || async { Ok(()) })
    }

    /// Adds a check to all three endpoints (a component whose failure means the server is not
    /// healthy, e.g. `storage`). `check` is called once per probe and runs under the check
    /// timeout.
    pub fn with_check<F, Fut>(self, name: &str, check: F) -> HealthChecks
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), CheckFailed>> + Send + 'static,
    {
        let check = check_fn(check);
        self.add(name, Some(check.clone()), check)
    }

    /// Adds a check that `/healthz` and `/livez` run as `check` and `/readyz` as the stricter
    /// `readiness`: a component that is alive (a restart would not help) but cannot serve all
    /// requests, e.g. `storage` on a full disk, answers reads while refusing writes.
    pub fn with_check_and_readiness<F, Fut, R, RFut>(
        self,
        name: &str,
        check: F,
        readiness: R,
    ) -> HealthChecks
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), CheckFailed>> + Send + 'static,
        R: Fn() -> RFut + Send + Sync + 'static,
        RFut: Future<Output = Result<(), CheckFailed>> + Send + 'static,
    {
        self.add(name, Some(check_fn(check)), check_fn(readiness))
    }

    /// Adds a check to `/readyz` only (a component that must be ready before the server takes
    /// traffic but whose absence does not call for a restart, e.g. `watch-cache`).
    pub fn with_readiness_check<F, Fut>(self, name: &str, check: F) -> HealthChecks
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), CheckFailed>> + Send + 'static,
    {
        self.add(name, None, check_fn(check))
    }

    /// Sets how long a check may run before it counts as failed.
    pub fn with_timeout(mut self, timeout: Duration) -> HealthChecks {
        self.timeout = timeout;
        self
    }

    fn add(mut self, name: &str, live: Option<CheckFn>, ready: CheckFn) -> HealthChecks {
        assert!(
            name != SHUTDOWN && self.checks.iter().all(|c| c.name != name),
            "health check {name:?} registered twice"
        );
        self.checks.push(Check {
            name: name.to_string(),
            live,
            ready,
        });
        self
    }

    /// From now on `/readyz` fails its `shutdown` check. Every clone sees it.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether [`HealthChecks::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// The names of the checks of `endpoint`, in report order.
    pub fn names(&self, endpoint: Endpoint) -> Vec<String> {
        let mut names: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.for_endpoint(endpoint).is_some())
            .map(|c| c.name.clone())
            .collect();
        if endpoint == Endpoint::Readyz {
            names.push(SHUTDOWN.to_string());
        }
        names
    }

    /// Runs the check `name` under the timeout; `None` when `endpoint` has no such check.
    pub async fn run_one(&self, endpoint: Endpoint, name: &str) -> Option<Result<(), CheckFailed>> {
        if endpoint == Endpoint::Readyz && name == SHUTDOWN {
            return Some(if self.is_shutting_down() {
                Err("the server is shutting down".into())
            } else {
                Ok(())
            });
        }
        let run = self
            .checks
            .iter()
            .find(|c| c.name == name)?
            .for_endpoint(endpoint)?;
        Some(match tokio::time::timeout(self.timeout, run()).await {
            Ok(result) => result,
            Err(_) => Err(CheckFailed(format!(
                "timed out after {}s",
                self.timeout.as_secs_f64()
            ))),
        })
    }

    /// Runs every check of `endpoint` not in `excluded`, concurrently.
    pub async fn report(&self, endpoint: Endpoint, excluded: &[String]) -> Report {
        let names = self.names(endpoint);
        let runs = names.iter().map(|name| async move {
            if excluded.contains(name) {
                (name.clone(), Outcome::Excluded)
            } else {
                let result = self.run_one(endpoint, name).await.expect("a listed check");
                (name.clone(), Outcome::Ran(result))
            }
        });
        let results = futures::future::join_all(runs).await;
        let unknown_excluded = excluded
            .iter()
            .filter(|e| !names.contains(e))
            .cloned()
            .collect();
        Report {
            endpoint,
            results,
            unknown_excluded,
        }
    }

    /// The routes of the three endpoints and their per-check paths. They carry their own state,
    /// so they merge into any router.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/healthz", only_get(get(healthz)))
            .route("/livez", only_get(get(livez)))
            .route("/readyz", only_get(get(readyz)))
            .route("/healthz/{check}", only_get(get(one_healthz)))
            .route("/livez/{check}", only_get(get(one_livez)))
            .route("/readyz/{check}", only_get(get(one_readyz)))
            .with_state(self.clone())
    }
}

fn check_fn<F, Fut>(check: F) -> CheckFn
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), CheckFailed>> + Send + 'static,
{
    Arc::new(move || Box::pin(check()))
}

/// What happened to one check in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Excluded,
    Ran(Result<(), CheckFailed>),
}

/// The result of one probe of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub endpoint: Endpoint,
    /// Per check, in registration order.
    pub results: Vec<(String, Outcome)>,
    /// Excluded names that match no check.
    pub unknown_excluded: Vec<String>,
}

impl Report {
    /// Whether every check that ran passed.
    pub fn passed(&self) -> bool {
        self.results
            .iter()
            .all(|(_, outcome)| !matches!(outcome, Outcome::Ran(Err(_))))
    }

    /// The verbose listing, reasons withheld.
    pub fn listing(&self) -> String {
        let mut text = String::new();
        for (name, outcome) in &self.results {
            let _ = match outcome {
                Outcome::Excluded => writeln!(text, "[+]{name} excluded: ok"),
                Outcome::Ran(Ok(())) => writeln!(text, "[+]{name} ok"),
                Outcome::Ran(Err(_)) => writeln!(text, "[-]{name} failed: reason withheld"),
            };
        }
        if !self.unknown_excluded.is_empty() {
            let quoted: Vec<String> = self
                .unknown_excluded
                .iter()
                .map(|n| format!("{n:?}"))
                .collect();
            let _ = writeln!(
                text,
                "warn: some health checks cannot be excluded: no matches for {}",
                quoted.join(",")
            );
        }
        text
    }

    fn into_response(self, verbose: bool) -> Response {
        let name = self.endpoint.name();
        if !self.passed() {
            for (check, outcome) in &self.results {
                if let Outcome::Ran(Err(reason)) = outcome {
                    tracing::warn!(endpoint = name, check = %check, %reason, "health check failed");
                }
            }
            let body = format!("{}{name} check failed\n", self.listing());
            return text(StatusCode::INTERNAL_SERVER_ERROR, body);
        }
        if verbose {
            text(
                StatusCode::OK,
                format!("{}{name} check passed\n", self.listing()),
            )
        } else {
            text(StatusCode::OK, "ok".to_string())
        }
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `verbose` present, and every `exclude` value.
fn options(query: Option<&str>) -> (bool, Vec<String>) {
    let mut verbose = false;
    let mut excluded = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "verbose" => verbose = true,
            "exclude" => excluded.push(value.trim().to_string()),
            _ => {}
        }
    }
    (verbose, excluded)
}

async fn probe(checks: &HealthChecks, endpoint: Endpoint, query: Option<String>) -> Response {
    let (verbose, excluded) = options(query.as_deref());
    checks
        .report(endpoint, &excluded)
        .await
        .into_response(verbose)
}

async fn probe_one(checks: &HealthChecks, endpoint: Endpoint, name: &str) -> Response {
    match checks.run_one(endpoint, name).await {
        None => ApiError::path_not_found().into_response(),
        Some(Ok(())) => text(StatusCode::OK, "ok".to_string()),
        Some(Err(reason)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal server error: {reason}\n"),
        ),
    }
}

async fn healthz(State(checks): State<HealthChecks>, RawQuery(query): RawQuery) -> Response {
    probe(&checks, Endpoint::Healthz, query).await
}

async fn livez(State(checks): State<HealthChecks>, RawQuery(query): RawQuery) -> Response {
    probe(&checks, Endpoint::Livez, query).await
}

async fn readyz(State(checks): State<HealthChecks>, RawQuery(query): RawQuery) -> Response {
    probe(&checks, Endpoint::Readyz, query).await
}

async fn one_healthz(State(checks): State<HealthChecks>, Path(name): Path<String>) -> Response {
    probe_one(&checks, Endpoint::Healthz, &name).await
}

async fn one_livez(State(checks): State<HealthChecks>, Path(name): Path<String>) -> Response {
    probe_one(&checks, Endpoint::Livez, &name).await
}

async fn one_readyz(State(checks): State<HealthChecks>, Path(name): Path<String>) -> Response {
    probe_one(&checks, Endpoint::Readyz, &name).await
}

#[cfg(test)]
mod tests;
