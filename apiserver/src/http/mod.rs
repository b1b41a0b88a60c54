//! The HTTP surface: one router, built by a plain function so tests drive it without sockets.
//!
//! Every request runs the [`filters`] chain (request info -> authentication -> authorization
//! -> deadline), then either a fixed route (discovery, OpenAPI, version, health) or, for any
//! other path, [`handlers::dispatch`], which serves the resources under
//! `/apis/apps.kruise.io/<version>/...` and answers everything else 404.

pub mod body;
pub mod discovery;
pub mod filters;
pub mod handlers;
pub mod health; // DISCOVERY helper
pub mod negotiate;
pub mod openapi; // DISCOVERY helper
pub mod query;
pub mod request_info;
pub mod state;
pub mod status;
pub mod table;
pub mod version; // DISCOVERY helper
pub mod watch;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;

pub use state::AppState;

/// The router serving every path, over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(discovery::routes())
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .fallback(handlers::dispatch)
        // Layers run outside-in from the last added: request info first.
        .layer(from_fn_with_state(state.clone(), filters::deadline))
        .layer(from_fn_with_state(state.clone(), filters::authorize))
        .layer(from_fn(filters::authenticate))
        .layer(from_fn(filters::request_info))
        .with_state(state)
}

async fn ok() -> &'static str {
    "ok"
}
