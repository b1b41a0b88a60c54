//! `/version`: the server's build, in the shape of Kubernetes' `version.Info` (`kubectl version`
//! prints `gitVersion`; client-go's discovery reads it).
//!
//! The git commit, tree state and build date come from the `PREPULL_GIT_COMMIT`,
//! `PREPULL_GIT_TREE_STATE` and `PREPULL_BUILD_DATE` environment variables at compile time when
//! a release build sets them, and are empty (the epoch for the date) otherwise.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::discovery::document::CachedDocument;
use super::discovery::only_get;

/// Kubernetes' `version.Info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub major: String,
    pub minor: String,
    /// `v` + the crate version, e.g. `v0.1.0`.
    pub git_version: String,
    pub git_commit: String,
    pub git_tree_state: String,
    pub build_date: String,
    /// Named for Go's field; holds the compiler, `rustc`.
    pub go_version: String,
    pub compiler: String,
    /// `os/arch` in Go's names, e.g. `linux/amd64`.
    pub platform: String,
}

/// This build's version.
pub fn info() -> VersionInfo {
    VersionInfo {
        major: env!("CARGO_PKG_VERSION_MAJOR").into(),
        minor: env!("CARGO_PKG_VERSION_MINOR").into(),
        git_version: concat!("v", env!("CARGO_PKG_VERSION")).into(),
        git_commit: option_env!("PREPULL_GIT_COMMIT").unwrap_or("").into(),
        git_tree_state: option_env!("PREPULL_GIT_TREE_STATE").unwrap_or("").into(),
        build_date: option_env!("PREPULL_BUILD_DATE")
            .unwrap_or("1970-01-01T00:00:00Z")
            .into(),
        go_version: "rustc".into(),
        compiler: "rustc".into(),
        platform: format!(
            "{}/{}",
            std::env::consts::OS,
            go_arch(std::env::consts::ARCH)
        ),
    }
}

/// Rust's architecture names in Go's spelling, which clients expect.
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

static DOCUMENT: LazyLock<CachedDocument> = LazyLock::new(|| {
    CachedDocument::json(&serde_json::to_value(info()).expect("version info serializes"))
});

/// The `/version` route. It needs no state, so it merges into any router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/version", only_get(get(version)))
}

async fn version(headers: HeaderMap) -> Response {
    DOCUMENT.respond(&headers, HeaderValue::from_static("application/json"), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn version_reports_the_crate_version_in_kubernetes_shape() {
        let response = routes::<()>()
            .oneshot(Request::get("/version").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap())
                .unwrap();
        assert_eq!(
            body["gitVersion"],
            format!("v{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(body["major"], env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(body["minor"], env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(body["goVersion"], "rustc");
        let platform = body["platform"].as_str().unwrap();
        assert!(platform.starts_with("linux/") && !platform.ends_with("x86_64"));
    }
}
