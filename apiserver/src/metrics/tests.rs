//! Router-level tests of the metrics middleware and `/metrics`.

use parking_lot::Mutex;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::routing::get;
use bytes::Bytes;
use tower::ServiceExt;

use super::*;
use crate::http::request_info::RequestInfo;

const JOBS: &str = "/apis/apps.kruise.io/v1alpha1/namespaces/ns/imagepulljobs";

/// A router with a list endpoint and a watch endpoint whose stream ends when `end` is dropped.
fn app(metrics: &Metrics, watch_body: Body) -> Router {
    let watch_body = Arc::new(Mutex::new(Some(watch_body)));
    let watch = move || {
        let body = watch_body.lock().take().expect("one watch");
        async move { Response::new(body) }
    };
    Router::new()
        .route(JOBS, get(|| async { "[]" }))
        .route("/apis/apps.kruise.io/v1beta1/nodeimages", get(watch))
        .layer(metrics.layer())
        .merge(metrics.routes())
}

async fn send(app: &Router, method: Method, path: &str) -> Response {
    app.clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn scrape(app: &Router) -> String {
    let response = send(app, Method::GET, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample line starting with `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

const LIST_LABELS: &str = r#"verb="LIST",group="apps.kruise.io",version="v1alpha1",resource="imagepulljobs",subresource="",scope="namespace",component="apiserver""#;
const WATCH_LABELS: &str = r#"verb="WATCH",group="apps.kruise.io",version="v1beta1",resource="nodeimages",subresource="",scope="cluster",component="apiserver""#;

#[tokio::test]
async fn a_request_is_counted_with_its_code_and_its_latency_observed() {
    let metrics = Metrics::new();
    let app = app(&metrics, Body::empty());
    assert_eq!(send(&app, Method::GET, JOBS).await.status(), StatusCode::OK);
    assert_eq!(send(&app, Method::GET, JOBS).await.status(), StatusCode::OK);
    assert_eq!(
        send(&app, Method::POST, JOBS).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{{LIST_LABELS},code=\"200\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_duration_seconds_count{{{LIST_LABELS}}}")
        ),
        Some(2.0)
    );
    let post = r#"verb="POST",group="apps.kruise.io",version="v1alpha1",resource="imagepulljobs",subresource="",scope="resource",component="apiserver",code="405""#;
    assert_eq!(
        sample(&text, &format!("apiserver_request_total{{{post}}}")),
        Some(1.0)
    );
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn a_watch_counts_as_open_until_its_stream_ends_and_is_recorded_then() {
    let metrics = Metrics::new();
    let (sender, receiver) = futures::channel::mpsc::unbounded::<Result<Bytes, Infallible>>();
    let app = app(&metrics, Body::from_stream(receiver));
    let response = send(
        &app,
        Method::GET,
        "/apis/apps.kruise.io/v1beta1/nodeimages?watch=1",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let open = scrape(&app).await;
    assert_eq!(
        sample(
            &open,
            &format!("apiserver_longrunning_requests{{{WATCH_LABELS}}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &open,
            r#"apiserver_registered_watchers{group="apps.kruise.io",version="v1beta1",kind="NodeImage"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &open,
            &format!("apiserver_request_total{{{WATCH_LABELS},code=\"200\"}}")
        ),
        None
    );

    sender
        .unbounded_send(Ok(Bytes::from_static(b"{\"type\":\"ADDED\"}\n")))
        .unwrap();
    drop(sender);
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert_eq!(&body[..], b"{\"type\":\"ADDED\"}\n");

    let closed = scrape(&app).await;
    assert_eq!(
        sample(
            &closed,
            &format!("apiserver_longrunning_requests{{{WATCH_LABELS}}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &closed,
            &format!("apiserver_request_total{{{WATCH_LABELS},code=\"200\"}}")
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_request_info_in_the_extensions_names_the_request() {
    let metrics = Metrics::new();
    let app = Router::new()
        .route("/anything", get(|| async { "ok" }))
        .layer(metrics.layer())
        .layer(middleware::from_fn(
            |mut request: axum::extract::Request, next: Next| async move {
                let info = RequestInfo::parse(
                    &Method::GET,
                    "/apis/apps.kruise.io/v1alpha1/nodeimages/n1",
                    None,
                );
                request.extensions_mut().insert(info);
                next.run(request).await
            },
        ))
        .merge(metrics.routes());
    send(&app, Method::GET, "/anything").await;
    let text = scrape(&app).await;
    let get = r#"verb="GET",group="apps.kruise.io",version="v1alpha1",resource="nodeimages",subresource="",scope="resource",component="apiserver",code="200""#;
    assert_eq!(
        sample(&text, &format!("apiserver_request_total{{{get}}}")),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn storage_latencies_are_observed_by_operation_and_backend() {
    let metrics = Metrics::new();
    metrics.observe_storage("get", "etcd", Duration::from_millis(3));
    let answer = metrics.time_storage("list", "embedded", async { 42 }).await;
    assert_eq!(answer, 42);
    let text = metrics.encode();
    assert_eq!(
        sample(
            &text,
            r#"prepull_storage_request_duration_seconds_count{operation="get",backend="etcd"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"prepull_storage_request_duration_seconds_bucket{le="0.005",operation="get",backend="etcd"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"prepull_storage_request_duration_seconds_count{operation="list",backend="embedded"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_metered_store_records_each_call_by_operation() {
    use prepull_storage::Storage;
    use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let metrics = Metrics::new();
    let metered = MeteredStorage::new(Arc::new(store), metrics.clone(), "embedded");
    metered
        .create("/registry/test/a", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert!(metered.get("/registry/test/a").await.is_ok());
    assert!(metered.get("/registry/test/missing").await.is_err());
    let text = metrics.encode();
    for (operation, count) in [("create", 1.0), ("get", 2.0)] {
        assert_eq!(
            sample(
                &text,
                &format!(
                    r#"prepull_storage_request_duration_seconds_count{{operation="{operation}",backend="embedded"}}"#
                )
            ),
            Some(count),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_scheduler_leadership_is_a_gauge_named_as_client_go_names_it() {
    let metrics = Metrics::new();
    let app = app(&metrics, Body::empty());
    let series = r#"leader_election_master_status{name="prepull-scheduler"}"#;
    assert_eq!(sample(&scrape(&app).await, series), None);
    metrics.set_scheduler_leading(true);
    assert_eq!(sample(&scrape(&app).await, series), Some(1.0));
    metrics.set_scheduler_leading(false);
    assert_eq!(sample(&scrape(&app).await, series), Some(0.0));
}
