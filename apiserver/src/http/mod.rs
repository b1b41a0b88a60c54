//! The HTTP surface: one router, built by a plain function so tests drive it without sockets.
//!
//! Every request runs the [`filters`] chain (request info -> authentication -> in-flight cap
//! ([`inflight`]) -> authorization -> metrics -> deadline), then either a fixed route (discovery, OpenAPI, version, health,
//! metrics) or, for any other path, [`handlers::dispatch`], which serves the resources under
//! `/apis/apps.kruise.io/<version>/...` and answers everything else 404.

// `ApiError` carries a whole Kubernetes Status (message, subject, causes) and is the error of
// nearly every function here; it is built on cold paths only, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod body;
pub mod discovery;
pub mod filters;
pub mod handlers;
pub mod health;
pub mod inflight;
pub mod negotiate;
pub mod openapi;
pub mod query;
pub mod request_info;
pub mod state;
pub mod status;
pub mod table;
pub mod version;
pub mod watch;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};

pub use state::AppState;

/// The router serving every path, over `state`.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// Like [`router`], with `extra` routes (which must not set a fallback) served behind the same
/// filters: authentication and authorization apply to them too.
pub fn router_with(state: AppState, extra: Router) -> Router {
    Router::new()
        .merge(discovery::routes())
        .merge(openapi::routes())
        .merge(version::routes())
        .merge(state.health.routes())
        .merge(state.metrics.routes())
        .fallback(handlers::dispatch)
        .with_state(state.clone())
        .merge(extra)
        // Layers run outside-in from the last added: request info first, then authentication,
        // the in-flight cap, authorization, metrics, and the deadline closest to the handlers.
        .layer(from_fn_with_state(state.clone(), filters::deadline))
        .layer(state.metrics.layer())
        .layer(from_fn_with_state(state.clone(), filters::authorize))
        .layer(from_fn_with_state(state.clone(), inflight::limit))
        .layer(from_fn_with_state(state.clone(), filters::authenticate))
        .layer(from_fn(filters::request_info))
}
