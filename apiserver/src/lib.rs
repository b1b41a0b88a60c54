//! Prepull's API server: serves apps.kruise.io ImagePullJob, ImageListPullJob and NodeImage
//! natively, as an aggregated API server (cluster mode) or on its own (standalone mode).
//!
//! Start reading at [`run`]: startup is [`options::Options`] -> [`config::Config`] -> run.
//! Requests enter through [`serve`] (TLS, HTTP/1.1 and HTTP/2) into the router built by
//! [`http::router`], which authenticates and authorizes them and hands resource requests to
//! [`http::handlers`]; those call the [`registry`], which owns every rule about objects and
//! talks to the storage. Every failure becomes a Kubernetes `Status` in [`http::status`].

pub mod auth;
pub mod config;
pub mod feature_gates; // DISCOVERY helper
pub mod http;
pub mod metrics; // DISCOVERY helper
pub mod options;
pub mod registry;
pub mod serve;
pub mod standalone;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use prepull_storage::Storage;
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};

use config::{Config, StorageConfig};
use registry::{FeatureGates, Registry, RegistryOptions, SystemClock};

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: Config) -> Result<()> {
    run_until(config, serve::shutdown_signal()).await
}

/// Runs the server until `shutdown` resolves, then stops accepting connections, ends every
/// watch (their streams finish cleanly), lets other requests finish within the shutdown
/// timeout and closes the storage.
pub async fn run_until(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let storage = open_storage(&config.storage).await?;
    let registry = Registry::new(
        storage,
        RegistryOptions {
            feature_gates: feature_gates(&config.feature_gates)?,
            // Standalone mode has no garbage collector to remove its finalizers.
            garbage_collection: false,
            clock: Arc::new(SystemClock),
        },
    );
    let mut state = http::AppState::new(
        Arc::new(registry),
        Arc::new(auth::authorize::StandaloneAuthorizer),
    );
    state.requests = config.requests;
    let watches = state.shutdown.clone();
    println!("Prepull API server: {}", config.standalone.url);
    println!(
        "  export KUBECONFIG={}",
        config.standalone.kubeconfig.display()
    );
    let router = http::router(state);
    serve::serve(config.serving, router, async move {
        shutdown.await;
        watches.cancel();
    })
    .await
}

/// The storage `config` names.
async fn open_storage(config: &StorageConfig) -> Result<Arc<dyn Storage>> {
    match config {
        StorageConfig::Embedded { dir } => {
            let dir = dir.clone();
            let store = tokio::task::spawn_blocking(move || {
                EmbeddedStore::open(&dir, EmbeddedOptions::default())
                    .with_context(|| format!("opening the embedded store in {}", dir.display()))
            })
            .await
            .context("opening the embedded store")??;
            Ok(Arc::new(store))
        }
        StorageConfig::Etcd { .. } => {
            bail!("--etcd-servers is not available in this build yet")
        }
    }
}

/// Parses `--feature-gates` (`Name=true|false`, comma separated).
fn feature_gates(text: &str) -> Result<FeatureGates> {
    let mut gates = FeatureGates::default();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, value) = entry
            .split_once('=')
            .with_context(|| format!("feature gate {entry:?} is not Name=true|false"))?;
        let value: bool = value
            .trim()
            .parse()
            .with_context(|| format!("feature gate {entry:?} is not Name=true|false"))?;
        match name.trim() {
            "ImagePullJobGate" => gates.image_pull_job_gate = value,
            other => bail!("unrecognized feature gate: {other}"),
        }
    }
    Ok(gates)
}
