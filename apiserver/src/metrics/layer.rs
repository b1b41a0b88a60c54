//! The request-recording middleware: a tower [`Layer`] so it wraps the router like any other.
//!
//! A request is recorded when its response head is ready, except a watch: it counts as open
//! (`apiserver_longrunning_requests`, `apiserver_registered_watchers`) from its response head
//! until its body stream ends or is dropped (client gone, timeout, shutdown), and only then is
//! it counted and its duration observed, as kube-apiserver does.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures::StreamExt;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::Metrics;
use super::labels::RequestLabels;
use crate::http::request_info::RequestInfo;

/// Wraps a service with [`MetricsService`]. Made by [`Metrics::layer`].
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    pub(super) fn new(metrics: Metrics) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> MetricsService<S> {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Records each request passing through to `S`.
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> Service<Request> for MetricsService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let start = Instant::now();
        let labels = match request.extensions().get::<RequestInfo>() {
            Some(info) => RequestLabels::new(request.method(), info, request.headers()),
            None => {
                let info = RequestInfo::parse(
                    request.method(),
                    request.uri().path(),
                    request.uri().query(),
                );
                RequestLabels::new(request.method(), &info, request.headers())
            }
        };
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let code = response.status().as_u16();
            if labels.is_watch() && response.status().is_success() {
                let guard = metrics.watch_started(labels, code, start);
                Ok(response.map(|body| guard_body(body, guard)))
            } else {
                metrics.observe_request(&labels, code, start.elapsed());
                Ok(response)
            }
        })
    }
}

/// The same body, holding `guard` until the stream is finished or dropped.
fn guard_body(body: Body, guard: WatchGuard) -> Body {
    let stream = body.into_data_stream().map(move |chunk| {
        let _open = &guard;
        chunk
    });
    Body::from_stream(stream)
}

/// Keeps a watch counted as open; when dropped, records it as a finished request.
#[derive(Debug)]
pub struct WatchGuard {
    metrics: Metrics,
    labels: RequestLabels,
    code: u16,
    start: Instant,
}

impl WatchGuard {
    pub(super) fn new(
        metrics: Metrics,
        labels: RequestLabels,
        code: u16,
        start: Instant,
    ) -> WatchGuard {
        metrics.watch_opened(&labels);
        WatchGuard {
            metrics,
            labels,
            code,
            start,
        }
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.metrics.watch_closed(&self.labels);
        self.metrics
            .observe_request(&self.labels, self.code, self.start.elapsed());
    }
}
