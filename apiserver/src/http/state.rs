//! What every handler can reach: the registry, the authorizer, request limits, and the
//! shutdown signal long-running requests listen to. Built once by [`crate::run`] (or by a
//! test) and cloned cheaply into each request.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::health::HealthChecks;
use super::inflight::InFlight;
use super::watch::EncodedEvents;
use crate::auth::authenticate::{Authenticator, CertificateAuthenticator};
use crate::auth::authorize::Authorizer;
use crate::config::RequestConfig;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Who sends a request; standalone's client-certificate authenticator unless replaced.
    pub authenticator: Arc<dyn Authenticator>,
    pub authorizer: Arc<dyn Authorizer>,
    pub requests: RequestConfig,
    /// Cancelled when the server shuts down: watches end their streams then.
    pub shutdown: CancellationToken,
    /// Watch event lines shared between watchers.
    pub encoded_events: Arc<EncodedEvents>,
    /// `/healthz`, `/livez`, `/readyz`.
    pub health: HealthChecks,
    /// `/metrics` and the request metrics layer.
    pub metrics: Metrics,
    /// Caps on requests served at once.
    pub in_flight: InFlight,
}

impl AppState {
    /// State around `registry` and `authorizer`, with client-certificate authentication,
    /// default request limits and in-flight caps, the `ping` health check only, fresh metrics and a fresh
    /// shutdown token.
    pub fn new(registry: Arc<Registry>, authorizer: Arc<dyn Authorizer>) -> AppState {
        AppState {
            registry,
            authenticator: Arc::new(CertificateAuthenticator::default()),
            authorizer,
            requests: RequestConfig::default(),
            shutdown: CancellationToken::new(),
            encoded_events: EncodedEvents::new(),
            health: HealthChecks::new(),
            metrics: Metrics::new(),
            in_flight: InFlight::default(),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("requests", &self.requests)
            .field("shutting_down", &self.shutdown.is_cancelled())
            .finish_non_exhaustive()
    }
}
