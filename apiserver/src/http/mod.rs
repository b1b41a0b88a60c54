//! The HTTP surface: one router, built by a plain function so tests drive it without sockets.

pub mod body;
pub mod negotiate;
pub mod query;
pub mod request_info;
pub mod status;
pub mod table;

use axum::Router;
use axum::routing::get;

use status::ApiError;

/// The router serving every path.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .fallback(|| async { ApiError::path_not_found() })
}

async fn ok() -> &'static str {
    "ok"
}
