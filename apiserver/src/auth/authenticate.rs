//! Who is calling. [`Authenticator`] is what the router's authentication filter asks;
//! standalone mode uses [`CertificateAuthenticator`] (the TLS layer has already verified the
//! chain against the client CA, the leaf's subject becomes the user: CN the name, O the
//! groups, as in Kubernetes); cluster mode uses
//! [`super::delegated::DelegatedAuthenticator`].

use async_trait::async_trait;
use axum::http::HeaderMap;
use x509_parser::prelude::{FromDer, X509Certificate};

use std::sync::Arc;

use super::UserInfo;
use crate::serve::PeerCertificates;
use crate::standalone::node_certificates::RevokedCertificates;

/// What a request presents to prove who sends it.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    pub headers: &'a HeaderMap,
    pub certificates: &'a PeerCertificates,
}

/// The request presented credentials and none of them could be verified: 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unauthenticated(pub String);

/// Turns a request's credentials into a [`UserInfo`]. A request presenting none is anonymous
/// (`Ok(UserInfo::anonymous())`); one presenting only invalid ones is [`Unauthenticated`].
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    async fn authenticate(&self, credentials: Credentials<'_>)
    -> Result<UserInfo, Unauthenticated>;
}

/// Standalone authentication: the client certificate the TLS layer verified, or anonymous;
/// a revoked certificate ([`RevokedCertificates`]) is refused (401).
#[derive(Clone, Debug, Default)]
pub struct CertificateAuthenticator {
    revoked: Option<Arc<RevokedCertificates>>,
}

impl CertificateAuthenticator {
    /// Refuses the certificates `revoked` lists.
    pub fn with_revocations(revoked: Arc<RevokedCertificates>) -> CertificateAuthenticator {
        CertificateAuthenticator {
            revoked: Some(revoked),
        }
    }
}

#[async_trait]
impl Authenticator for CertificateAuthenticator {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<UserInfo, Unauthenticated> {
        if let (Some(revoked), Some(leaf)) = (&self.revoked, credentials.certificates.0.first())
            && revoked.is_revoked(leaf.as_ref())
        {
            let name = common_name(leaf.as_ref()).unwrap_or_default();
            return Err(Unauthenticated(format!(
                "the certificate of {name:?} was revoked"
            )));
        }
        Ok(user_from_certificates(credentials.certificates))
    }
}

/// The user a connection's certificates name, or anonymous when there are none.
/// A certificate without a common name is anonymous too. The chain must already be verified.
pub fn user_from_certificates(certs: &PeerCertificates) -> UserInfo {
    let Some(leaf) = certs.0.first() else {
        return UserInfo::anonymous();
    };
    let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
        return UserInfo::anonymous();
    };
    let subject = cert.subject();
    let Some(name) = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
    else {
        return UserInfo::anonymous();
    };
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_string)
        .collect();
    UserInfo::authenticated(name.to_string(), groups)
}

/// The common name of a DER certificate, if it has one.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}
