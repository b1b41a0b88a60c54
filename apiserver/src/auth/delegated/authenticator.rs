//! Delegated authentication, in kube's order: the front proxy (request-header client
//! certificate + identity headers), a user client certificate (client CA), a bearer token
//! (TokenReview); a request presenting none of them is anonymous.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::header::AUTHORIZATION;

use super::request_header::user_from_headers;
use super::token_review::TokenReviewer;
use super::trust::chain_verifies;
use super::trust_source::TrustSource;
use crate::auth::UserInfo;
use crate::auth::authenticate::{
    Authenticator, Credentials, Unauthenticated, common_name, user_from_certificates,
};

/// The extra key of a service-account token bound to a pod: the node the pod runs on.
pub const NODE_NAME_EXTRA: &str = "authentication.kubernetes.io/node-name";

/// Cluster-mode authentication.
#[derive(Debug)]
pub struct DelegatedAuthenticator {
    trust: Arc<TrustSource>,
    tokens: Option<TokenReviewer>,
    node_agents: Vec<String>,
}

impl DelegatedAuthenticator {
    /// Trusts certificates per `trust`; reviews bearer tokens with `tokens` (none: tokens are
    /// refused). Users named in `node_agents` (`system:serviceaccount:<ns>:<name>`) holding a
    /// node-bound token act for the node it names ([`UserInfo::acts_for_node`]).
    pub fn new(
        trust: Arc<TrustSource>,
        tokens: Option<TokenReviewer>,
        node_agents: Vec<String>,
    ) -> DelegatedAuthenticator {
        DelegatedAuthenticator {
            trust,
            tokens,
            node_agents,
        }
    }

    fn with_node_identity(&self, mut user: UserInfo) -> UserInfo {
        user.acts_for_node = None;
        if self.node_agents.contains(&user.name)
            && let Some([node]) = user.extra.get(NODE_NAME_EXTRA).map(Vec::as_slice)
            && !node.is_empty()
        {
            user.acts_for_node = Some(node.clone());
        }
        user
    }

    async fn identify(&self, credentials: Credentials<'_>) -> Result<UserInfo, Unauthenticated> {
        let chain = credentials.certificates.0.as_slice();
        let mut refused_certificate = None;
        if !chain.is_empty() {
            let trust = self.trust.current();
            if let Some(rh) = &trust.request_header
                && chain_verifies(rh.ca.as_ref(), chain)
            {
                let name = common_name(chain[0].as_ref()).unwrap_or_default();
                if !rh.allowed_names.is_empty() && !rh.allowed_names.contains(&name) {
                    return Err(Unauthenticated(format!(
                        "front proxy certificate {name:?} is not in requestheader-allowed-names"
                    )));
                }
                if let Some(user) = user_from_headers(credentials.headers, rh) {
                    return Ok(user);
                }
            } else if let Some(ca) = &trust.client_ca
                && chain_verifies(ca.as_ref(), chain)
            {
                return Ok(user_from_certificates(credentials.certificates));
            } else {
                refused_certificate =
                    Some("client certificate is not signed by a trusted CA".to_string());
            }
        }
        if let Some(token) = bearer_token(credentials) {
            let Some(tokens) = &self.tokens else {
                return Err(Unauthenticated("bearer tokens are not accepted".into()));
            };
            return match tokens.review(token).await {
                Ok(Some(user)) => Ok(user),
                Ok(None) => Err(Unauthenticated("invalid bearer token".into())),
                Err(err) => {
                    tracing::warn!(%err, "could not review a bearer token");
                    Err(Unauthenticated(err))
                }
            };
        }
        match refused_certificate {
            Some(reason) => Err(Unauthenticated(reason)),
            None => Ok(UserInfo::anonymous()),
        }
    }
}

#[async_trait]
impl Authenticator for DelegatedAuthenticator {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<UserInfo, Unauthenticated> {
        self.identify(credentials)
            .await
            .map(|user| self.with_node_identity(user))
    }
}

fn bearer_token<'a>(credentials: Credentials<'a>) -> Option<&'a str> {
    let value = credentials.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;
    use crate::auth::delegated::trust::AuthenticationTrust;
    use crate::serve::PeerCertificates;
    use crate::standalone::pki;

    struct Fixture {
        authenticator: DelegatedAuthenticator,
        client_ca: pki::CertifiedKey,
        proxy_ca: pki::CertifiedKey,
    }

    fn fixture() -> Fixture {
        let client_ca = pki::new_ca("client-ca").unwrap();
        let proxy_ca = pki::new_ca("front-proxy-ca").unwrap();
        let data = [
            ("client-ca-file", client_ca.cert_pem.as_str()),
            ("requestheader-client-ca-file", proxy_ca.cert_pem.as_str()),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let trust = AuthenticationTrust::from_config_map(&data, &provider).unwrap();
        Fixture {
            authenticator: DelegatedAuthenticator::new(
                TrustSource::fixed(trust, provider),
                None,
                vec!["system:serviceaccount:prepull-system:prepull-nodeagent".into()],
            ),
            client_ca,
            proxy_ca,
        }
    }

    fn cert(ca: &pki::CertifiedKey, cn: &str, groups: &[&str]) -> PeerCertificates {
        let issuer = pki::issuer(ca).unwrap();
        let pair = pki::issue_client(&issuer, cn, groups).unwrap();
        let der = CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).unwrap();
        PeerCertificates(Arc::new(vec![der]))
    }

    async fn run(
        f: &Fixture,
        headers: &HeaderMap,
        certs: &PeerCertificates,
    ) -> Result<UserInfo, Unauthenticated> {
        f.authenticator
            .authenticate(Credentials {
                headers,
                certificates: certs,
            })
            .await
    }

    fn proxied(user: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-user", HeaderValue::from_str(user).unwrap());
        headers.insert(
            "x-remote-group",
            HeaderValue::from_static("system:serviceaccounts"),
        );
        headers.insert(
            "x-remote-extra-authentication.kubernetes.io%2fnode-name",
            HeaderValue::from_static("node-1"),
        );
        headers
    }

    #[tokio::test]
    async fn the_front_proxy_is_believed_only_with_its_allowed_certificate() {
        let f = fixture();
        let headers = proxied("alice");
        let user = run(&f, &headers, &cert(&f.proxy_ca, "front-proxy-client", &[]))
            .await
            .unwrap();
        assert_eq!(user.name, "alice");
        assert!(user.in_group("system:authenticated"));
        let err = run(&f, &headers, &cert(&f.proxy_ca, "someone-else", &[]))
            .await
            .unwrap_err();
        assert!(err.0.contains("requestheader-allowed-names"), "{err}");
        // A user certificate does not make the headers count.
        let user = run(&f, &headers, &cert(&f.client_ca, "bob", &["dev"]))
            .await
            .unwrap();
        assert_eq!(user.name, "bob");
        assert_eq!(user.groups, ["dev", "system:authenticated"]);
    }

    #[tokio::test]
    async fn an_unknown_certificate_is_401_and_no_credentials_is_anonymous() {
        let f = fixture();
        let stranger = pki::new_ca("stranger").unwrap();
        let headers = HeaderMap::new();
        assert!(
            run(&f, &headers, &cert(&stranger, "eve", &[]))
                .await
                .is_err()
        );
        let user = run(&f, &headers, &PeerCertificates::default())
            .await
            .unwrap();
        assert!(user.is_anonymous());
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let err = run(&f, &bearer, &PeerCertificates::default())
            .await
            .unwrap_err();
        assert_eq!(err.0, "bearer tokens are not accepted");
    }

    #[tokio::test]
    async fn only_the_node_agent_service_account_acts_for_the_node_of_its_token() {
        let f = fixture();
        let proxy = cert(&f.proxy_ca, "front-proxy-client", &[]);
        let agent = run(
            &f,
            &proxied("system:serviceaccount:prepull-system:prepull-nodeagent"),
            &proxy,
        )
        .await
        .unwrap();
        assert_eq!(agent.acts_for_node.as_deref(), Some("node-1"));
        assert_eq!(crate::auth::authorize::node_name(&agent), Some("node-1"));
        let other = run(
            &f,
            &proxied("system:serviceaccount:default:builder"),
            &proxy,
        )
        .await
        .unwrap();
        assert_eq!(crate::auth::authorize::node_name(&other), None);
    }
}
