//! Authentication and authorization delegated to kube-apiserver, wired from the
//! [`ClusterConfig`]: the trust ConfigMap followed, TokenReviews, SubjectAccessReviews.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::ClusterConfig;
use super::client::connect;
use crate::auth::delegated::{
    DelegatedAuthenticator, DelegatedAuthorizer, TokenReviewer, TrustSource,
};
use crate::config::crypto_provider;

/// The delegated authenticator and authorizer.
#[derive(Debug)]
pub struct Delegation {
    pub authenticator: Arc<DelegatedAuthenticator>,
    pub authorizer: Arc<DelegatedAuthorizer>,
}

impl Delegation {
    /// Connects with the authentication and authorization kubeconfigs, reads the trust
    /// ConfigMap (failing when it is unreadable) and follows it until `stop` is cancelled.
    pub async fn start(config: &ClusterConfig, stop: CancellationToken) -> Result<Delegation> {
        let authn_client = connect(config.authentication_kubeconfig.as_deref())
            .await
            .context("connecting for authentication")?;
        let authz_client = connect(config.authorization_kubeconfig.as_deref())
            .await
            .context("connecting for authorization")?;
        let trust = TrustSource::start(authn_client.clone(), crypto_provider(), stop).await?;
        let tokens = TokenReviewer::new(authn_client, config.token_cache_ttl);
        Ok(Delegation {
            authenticator: Arc::new(DelegatedAuthenticator::new(
                trust,
                Some(tokens),
                config.node_agents.clone(),
            )),
            authorizer: Arc::new(DelegatedAuthorizer::new(
                authz_client,
                config.authorization.clone(),
            )),
        })
    }
}
