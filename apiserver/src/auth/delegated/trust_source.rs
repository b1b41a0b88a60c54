//! Keeps the current [`AuthenticationTrust`]: read once at start, then followed with a watch on
//! the ConfigMap, so a rotated front-proxy or client CA is trusted without a restart.

use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use rustls::crypto::CryptoProvider;
use tokio_util::sync::CancellationToken;

use super::trust::{AuthenticationTrust, CONFIG_MAP_NAME, CONFIG_MAP_NAMESPACE, TrustError};

/// Deadline of the first read of the ConfigMap.
const FIRST_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the trust material could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum TrustSourceError {
    #[error(
        "reading ConfigMap {CONFIG_MAP_NAMESPACE}/{CONFIG_MAP_NAME} (does this server's service account have the extension-apiserver-authentication-reader Role?): {0}"
    )]
    Read(String),
    #[error("ConfigMap {CONFIG_MAP_NAMESPACE}/{CONFIG_MAP_NAME}: {0}")]
    Invalid(#[from] TrustError),
}

/// The current trust material, shared by every request.
pub struct TrustSource {
    current: RwLock<Arc<AuthenticationTrust>>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustSource").finish_non_exhaustive()
    }
}

impl TrustSource {
    /// A source that always holds `trust` (tests, or a caller managing updates itself with
    /// [`TrustSource::set`]).
    pub fn fixed(trust: AuthenticationTrust, provider: Arc<CryptoProvider>) -> Arc<TrustSource> {
        Arc::new(TrustSource {
            current: RwLock::new(Arc::new(trust)),
            provider,
        })
    }

    /// Reads the ConfigMap through `client` (failing when it is missing or unreadable), then
    /// follows its changes in a background task until `stop` is cancelled. A later invalid
    /// version is logged and ignored (the previous trust stays).
    pub async fn start(
        client: kube::Client,
        provider: Arc<CryptoProvider>,
        stop: CancellationToken,
    ) -> Result<Arc<TrustSource>, TrustSourceError> {
        let api: Api<ConfigMap> = Api::namespaced(client, CONFIG_MAP_NAMESPACE);
        let first = tokio::time::timeout(FIRST_READ_TIMEOUT, api.get(CONFIG_MAP_NAME))
            .await
            .map_err(|_| {
                TrustSourceError::Read(format!("no answer within {FIRST_READ_TIMEOUT:?}"))
            })?
            .map_err(|err| TrustSourceError::Read(err.to_string()))?;
        let trust = AuthenticationTrust::from_config_map(
            &first.data.clone().unwrap_or_default(),
            &provider,
        )?;
        let source = TrustSource::fixed(trust, provider);
        let follower = source.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = follower.follow(api) => {}
                () = stop.cancelled() => {}
            }
        });
        Ok(source)
    }

    /// The trust material in force now.
    pub fn current(&self) -> Arc<AuthenticationTrust> {
        self.current.read().clone()
    }

    /// Replaces the trust material.
    pub fn set(&self, trust: AuthenticationTrust) {
        *self.current.write() = Arc::new(trust);
    }

    async fn follow(&self, api: Api<ConfigMap>) {
        let config = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP_NAME}"));
        let mut changes = watcher(api, config)
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Some(change) = changes.next().await {
            match change {
                Ok(config_map) => {
                    match AuthenticationTrust::from_config_map(
                        &config_map.data.unwrap_or_default(),
                        &self.provider,
                    ) {
                        Ok(trust) => {
                            self.set(trust);
                            tracing::debug!("authentication trust updated from the ConfigMap");
                        }
                        Err(err) => tracing::warn!(
                            %err,
                            "ignoring an invalid {CONFIG_MAP_NAMESPACE}/{CONFIG_MAP_NAME}"
                        ),
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "watching {CONFIG_MAP_NAMESPACE}/{CONFIG_MAP_NAME}")
                }
            }
        }
    }
}
