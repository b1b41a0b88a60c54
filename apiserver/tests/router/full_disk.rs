//! A full disk under the API: the embedded store's data directory on a small tmpfs that fills
//! up. Writes get 507 InsufficientStorage naming the directory, reads still work, `/readyz`
//! fails its `storage` check while `/livez` holds, and all of it recovers once space is freed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use prepull_apiserver::auth::authorize::StandaloneAuthorizer;
use prepull_apiserver::http::health::storage::with_storage_check;
use prepull_apiserver::http::{AppState, router};
use prepull_apiserver::registry::{Registry, RegistryOptions};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_testbed::Tmpfs;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{JOBS, NODES, admin, job, request};

/// A NodeImage with ~8 KiB of labels, so the disk fills in few writes.
fn big_node(name: &str) -> Value {
    let labels: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("example.com/label-{i:02}"), json!("v".repeat(60))))
        .collect();
    json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "NodeImage",
        "metadata": {"name": name, "labels": labels},
        "spec": {}
    })
}

async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    body: Option<&Value>,
) -> (StatusCode, String) {
    let mut req = match body {
        Some(body) => request(method, uri, Some("application/json"), &body.to_string()),
        None => request(method, uri, None, ""),
    };
    req.extensions_mut().insert(admin());
    let response = router
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_insufficient_storage_and_readyz_fails_until_space_is_freed() {
    let disk = Tmpfs::mount(16 << 20).expect("a 16 MiB tmpfs");
    let dir = disk.path().join("store");
    let store = Arc::new(EmbeddedStore::open(&dir, EmbeddedOptions::default()).unwrap());
    let registry = Registry::new(
        store.clone(),
        RegistryOptions {
            garbage_collection: false,
            ..RegistryOptions::default()
        },
    );
    let mut state = AppState::new(Arc::new(registry), Arc::new(StandaloneAuthorizer));
    state.health = with_storage_check(state.health, store.clone());
    let router = router(state);

    let (status, body) = send(&router, Method::POST, NODES, Some(&big_node("before"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = send(&router, Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);

    let (filler, _) = disk.fill("filler").expect("fill the tmpfs");
    let mut refused = None;
    for i in 0..500 {
        let (status, body) = send(
            &router,
            Method::POST,
            NODES,
            Some(&big_node(&format!("n{i}"))),
        )
        .await;
        if status != StatusCode::CREATED {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the disk filled up within 500 creates");
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    let status_body: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(status_body["kind"], "Status");
    assert_eq!(status_body["status"], "Failure");
    assert_eq!(status_body["code"], 507);
    assert_eq!(status_body["reason"], "InsufficientStorage");
    let message = status_body["message"].as_str().unwrap();
    assert!(
        message.contains(&dir.display().to_string()),
        "the message names the data directory: {message}"
    );

    // Reads still work; readiness says storage is not ok, liveness does not ask for a restart.
    let (status, body) = send(&router, Method::GET, &format!("{NODES}/before"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&router, Method::GET, NODES, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&router, Method::GET, "/readyz?verbose", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("[-]storage failed"), "{body}");
    let (status, body) = send(&router, Method::GET, "/livez?verbose", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("[+]storage ok"), "{body}");

    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    // No event says "space is back"; a bounded poll of /readyz.
    while send(&router, Method::GET, "/readyz", None).await.0 != StatusCode::OK {
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "/readyz still failing 10 s after freeing space"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = send(&router, Method::POST, JOBS, Some(&job("after"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(&router, Method::GET, "/readyz?verbose", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("[+]storage ok"), "{body}");
}
