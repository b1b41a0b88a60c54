//! Authentication by client certificate: the TLS layer has already verified the chain against
//! the client CA; here the leaf's subject becomes the user (CN) and groups (O), as in
//! Kubernetes.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::UserInfo;
use crate::serve::PeerCertificates;

/// The user a connection's certificates name, or anonymous when there are none.
/// A certificate without a common name is anonymous too.
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
