//! Router-level tests of the health endpoints.

use std::sync::atomic::AtomicBool;

use axum::body::{Body, to_bytes};
use axum::http::Request;
use tower::ServiceExt;

use super::*;

async fn get(checks: &HealthChecks, path: &str) -> (StatusCode, String, String) {
    let response = checks
        .routes::<()>()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// Storage healthy; the watch cache not synced until `synced` is set.
fn checks(synced: Arc<AtomicBool>) -> HealthChecks {
    HealthChecks::new()
        .with_check("storage", || async { Ok(()) })
        .with_readiness_check("watch-cache", move || {
            let synced = synced.load(Ordering::SeqCst);
            async move {
                if synced {
                    Ok(())
                } else {
                    Err("not synced yet".into())
                }
            }
        })
}

#[tokio::test]
async fn healthy_endpoints_answer_ok_in_plain_text() {
    let checks = checks(Arc::new(AtomicBool::new(true)));
    for path in ["/healthz", "/livez", "/readyz"] {
        let (status, content_type, body) = get(&checks, path).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "{path}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
    }
}

#[tokio::test]
async fn verbose_lists_every_check_like_kube_apiserver() {
    let checks = checks(Arc::new(AtomicBool::new(true)));
    let (_, _, body) = get(&checks, "/readyz?verbose").await;
    assert_eq!(
        body,
        "[+]ping ok\n[+]storage ok\n[+]watch-cache ok\n[+]shutdown ok\nreadyz check passed\n"
    );
    let (_, _, body) = get(&checks, "/livez?verbose=1").await;
    assert_eq!(body, "[+]ping ok\n[+]storage ok\nlivez check passed\n");
}

#[tokio::test]
async fn a_failing_readiness_check_fails_readyz_only_and_withholds_the_reason() {
    let synced = Arc::new(AtomicBool::new(false));
    let checks = checks(synced.clone());
    let (status, _, body) = get(&checks, "/readyz").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        "[+]ping ok\n[+]storage ok\n[-]watch-cache failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"
    );
    assert_eq!(get(&checks, "/livez").await.0, StatusCode::OK);
    assert_eq!(get(&checks, "/healthz").await.0, StatusCode::OK);

    synced.store(true, Ordering::SeqCst);
    assert_eq!(get(&checks, "/readyz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn excluded_checks_are_skipped_and_unknown_exclusions_reported() {
    let checks = checks(Arc::new(AtomicBool::new(false)));
    let (status, _, body) = get(&checks, "/readyz?exclude=watch-cache&exclude=nope&verbose").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "[+]ping ok\n[+]storage ok\n[+]watch-cache excluded: ok\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"
    );
}

#[tokio::test]
async fn a_check_has_its_own_path_that_shows_the_reason() {
    let checks = checks(Arc::new(AtomicBool::new(false)));
    let (status, _, body) = get(&checks, "/readyz/watch-cache").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "internal server error: not synced yet\n");
    let (status, _, body) = get(&checks, "/livez/storage").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    // Readiness checks are not liveness checks.
    assert_eq!(
        get(&checks, "/livez/watch-cache").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn readiness_fails_once_shutdown_begins_but_liveness_holds() {
    let checks = checks(Arc::new(AtomicBool::new(true)));
    let served = checks.clone();
    checks.begin_shutdown();
    let (status, _, body) = get(&served, "/readyz").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("[-]shutdown failed: reason withheld\n"),
        "{body}"
    );
    assert_eq!(get(&served, "/livez").await.0, StatusCode::OK);
    assert_eq!(
        get(&served, "/readyz/shutdown").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn a_check_that_hangs_fails_after_the_timeout() {
    let checks = HealthChecks::new()
        .with_check("stuck", std::future::pending::<Result<(), CheckFailed>>)
        .with_timeout(Duration::from_millis(20));
    let (status, _, body) = get(&checks, "/healthz/stuck").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.starts_with("internal server error: timed out"),
        "{body}"
    );
}

#[tokio::test]
async fn a_check_with_a_stricter_readiness_fails_readyz_alone() {
    let writable = Arc::new(AtomicBool::new(false));
    let ready = writable.clone();
    let checks = HealthChecks::new().with_check_and_readiness(
        "storage",
        || async { Ok(()) },
        move || {
            let writable = ready.load(Ordering::SeqCst);
            async move {
                if writable {
                    Ok(())
                } else {
                    Err("disk full".into())
                }
            }
        },
    );
    let (status, _, body) = get(&checks, "/readyz?verbose").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        "[+]ping ok\n[-]storage failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"
    );
    assert_eq!(
        get(&checks, "/readyz/storage").await.2,
        "internal server error: disk full\n"
    );
    let (status, _, body) = get(&checks, "/livez?verbose").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "[+]ping ok\n[+]storage ok\nlivez check passed\n");
    assert_eq!(get(&checks, "/healthz/storage").await.0, StatusCode::OK);

    writable.store(true, Ordering::SeqCst);
    assert_eq!(get(&checks, "/readyz").await.0, StatusCode::OK);
}
