//! Authentication and authorization delegated to kube-apiserver, wired from the
//! [`ClusterConfig`]: the trust ConfigMap followed, TokenReviews, SubjectAccessReviews.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::ClusterConfig;
use super::client::{ClientError, connect};
use crate::auth::delegated::{
    DelegatedAuthenticator, DelegatedAuthorizer, TokenReviewer, TrustSource, TrustSourceError,
};
use crate::config::crypto_provider;

/// Why delegation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    #[error("connecting to kube-apiserver for authentication: {0}")]
    AuthenticationClient(#[source] ClientError),
    #[error("connecting to kube-apiserver for authorization: {0}")]
    AuthorizationClient(#[source] ClientError),
    #[error(transparent)]
    Trust(#[from] TrustSourceError),
}

/// The delegated authenticator and authorizer.
#[derive(Debug)]
pub struct Delegation {
    pub authenticator: Arc<DelegatedAuthenticator>,
    pub authorizer: Arc<DelegatedAuthorizer>,
}

impl Delegation {
    /// Connects with the authentication and authorization kubeconfigs, reads the trust
    /// ConfigMap (failing when it is unreadable) and follows it until `stop` is cancelled.
    pub async fn start(
        config: &ClusterConfig,
        stop: CancellationToken,
    ) -> Result<Delegation, DelegationError> {
        let authn_client = connect(config.authentication_kubeconfig.as_deref())
            .await
            .map_err(DelegationError::AuthenticationClient)?;
        let authz_client = connect(config.authorization_kubeconfig.as_deref())
            .await
            .map_err(DelegationError::AuthorizationClient)?;
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
