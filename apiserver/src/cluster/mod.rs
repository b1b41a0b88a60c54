//! Cluster mode: running behind kube-apiserver's aggregation layer. [`ClusterConfig`] is what
//! the flags say; at start [`client::connect`] reaches the main cluster,
//! [`crd_conflict::refuse_if_crds_own_our_versions`] makes sure no CRD serves our
//! group-versions, and [`delegation::Delegation`] sets up authentication and authorization
//! through kube-apiserver.

pub mod client;
pub mod crd_conflict;
pub mod delegation;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::auth::delegated::AuthorizationOptions;
use crate::config::crypto_provider;
use crate::options::Options;
use crate::serve::ReloadingServingCert;

/// Cluster mode's configuration.
#[derive(Debug)]
pub struct ClusterConfig {
    /// The main cluster's kubeconfig; `None`: in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// For TokenReviews and the authentication ConfigMap; `None`: [`Self::kubeconfig`].
    pub authentication_kubeconfig: Option<PathBuf>,
    /// For SubjectAccessReviews; `None`: [`Self::kubeconfig`].
    pub authorization_kubeconfig: Option<PathBuf>,
    /// The serving certificate, loaded and re-read every [`Self::cert_reload_interval`].
    pub serving_cert: Arc<ReloadingServingCert>,
    pub cert_reload_interval: Duration,
    /// How long a TokenReview answer is remembered.
    pub token_cache_ttl: Duration,
    pub authorization: AuthorizationOptions,
    /// Service-account users of node agents (see [`crate::auth::UserInfo::acts_for_node`]).
    pub node_agents: Vec<String>,
}

impl ClusterConfig {
    /// Validates the cluster-mode flags and loads the serving certificate.
    pub fn from_options(options: &Options) -> Result<ClusterConfig> {
        let (Some(cert), Some(key)) = (&options.tls_cert_file, &options.tls_private_key_file)
        else {
            bail!(
                "cluster mode needs --tls-cert-file and --tls-private-key-file (make them with `prepull-apiserver certs`), or run with --standalone"
            );
        };
        if options.tls_cert_reload_interval_seconds == 0 {
            bail!("--tls-cert-reload-interval-seconds must be positive");
        }
        let serving_cert = ReloadingServingCert::load(cert, key, crypto_provider())
            .context("loading the serving certificate")?;
        let fallback =
            |specific: &Option<PathBuf>| specific.clone().or_else(|| options.kubeconfig.clone());
        Ok(ClusterConfig {
            kubeconfig: options.kubeconfig.clone(),
            authentication_kubeconfig: fallback(&options.authentication_kubeconfig),
            authorization_kubeconfig: fallback(&options.authorization_kubeconfig),
            serving_cert: Arc::new(serving_cert),
            cert_reload_interval: Duration::from_secs(options.tls_cert_reload_interval_seconds),
            token_cache_ttl: Duration::from_secs(
                options.authentication_token_webhook_cache_ttl_seconds,
            ),
            authorization: AuthorizationOptions {
                allow_ttl: Duration::from_secs(
                    options.authorization_webhook_cache_authorized_ttl_seconds,
                ),
                deny_ttl: Duration::from_secs(
                    options.authorization_webhook_cache_unauthorized_ttl_seconds,
                ),
                always_allow_paths: options.authorization_always_allow_paths.clone(),
            },
            node_agents: options.node_agent_service_accounts.clone(),
        })
    }
}
