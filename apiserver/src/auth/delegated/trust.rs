//! The trust material of delegated authentication, as kube-apiserver publishes it in ConfigMap
//! `kube-system/extension-apiserver-authentication`: the CA of user client certificates
//! (`client-ca-file`) and the front proxy's settings (`requestheader-*`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

/// Namespace of the ConfigMap.
pub const CONFIG_MAP_NAMESPACE: &str = "kube-system";
/// Name of the ConfigMap.
pub const CONFIG_MAP_NAME: &str = "extension-apiserver-authentication";

/// Why the ConfigMap's contents are unusable.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Parsed trust material. Either part may be absent (then that kind of authentication is off).
#[derive(Clone, Debug)]
pub struct AuthenticationTrust {
    /// Verifies user client certificates.
    pub client_ca: Option<Arc<dyn ClientCertVerifier>>,
    /// How to recognise and read the front proxy.
    pub request_header: Option<RequestHeaderTrust>,
}

/// The front proxy's settings.
#[derive(Clone, Debug)]
pub struct RequestHeaderTrust {
    /// Verifies the proxy's client certificate.
    pub ca: Arc<dyn ClientCertVerifier>,
    /// Common names the proxy's certificate may carry; empty allows any the CA signed.
    pub allowed_names: Vec<String>,
    /// Header names, lower-cased.
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

impl AuthenticationTrust {
    /// Nothing trusted: only bearer tokens authenticate.
    pub fn empty() -> AuthenticationTrust {
        AuthenticationTrust {
            client_ca: None,
            request_header: None,
        }
    }

    /// Parses the ConfigMap's `data`. List values are JSON arrays of strings; a missing
    /// header list means kube-apiserver's usual `X-Remote-User`, `X-Remote-Group`,
    /// `X-Remote-Extra-` (and no uid header).
    pub fn from_config_map(
        data: &BTreeMap<String, String>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<AuthenticationTrust, TrustError> {
        let client_ca = match data.get("client-ca-file").filter(|v| !v.trim().is_empty()) {
            Some(pem) => Some(verifier("client-ca-file", pem, provider)?),
            None => None,
        };
        let request_header = match data
            .get("requestheader-client-ca-file")
            .filter(|v| !v.trim().is_empty())
        {
            Some(pem) => Some(RequestHeaderTrust {
                ca: verifier("requestheader-client-ca-file", pem, provider)?,
                allowed_names: list(data, "requestheader-allowed-names", &[])?,
                username_headers: lower(list(
                    data,
                    "requestheader-username-headers",
                    &["X-Remote-User"],
                )?),
                uid_headers: lower(list(data, "requestheader-uid-headers", &[])?),
                group_headers: lower(list(
                    data,
                    "requestheader-group-headers",
                    &["X-Remote-Group"],
                )?),
                extra_prefixes: lower(list(
                    data,
                    "requestheader-extra-headers-prefix",
                    &["X-Remote-Extra-"],
                )?),
            }),
            None => None,
        };
        Ok(AuthenticationTrust {
            client_ca,
            request_header,
        })
    }
}

/// Whether `chain` (leaf first) verifies against `verifier` now.
pub fn chain_verifies(verifier: &dyn ClientCertVerifier, chain: &[CertificateDer<'_>]) -> bool {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return false;
    };
    verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .is_ok()
}

fn verifier(
    key: &'static str,
    pem: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TrustError> {
    let invalid = |message: String| TrustError::Invalid { key, message };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no PEM certificate".into()));
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| invalid(e.to_string()))
}

fn list(
    data: &BTreeMap<String, String>,
    key: &'static str,
    default: &[&str],
) -> Result<Vec<String>, TrustError> {
    match data.get(key) {
        None => Ok(default.iter().map(|s| s.to_string()).collect()),
        Some(text) if text.trim().is_empty() => Ok(Vec::new()),
        Some(text) => serde_json::from_str::<Vec<String>>(text).map_err(|e| TrustError::Invalid {
            key,
            message: format!("not a JSON array of strings: {e}"),
        }),
    }
}

fn lower(values: Vec<String>) -> Vec<String> {
    values.into_iter().map(|v| v.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standalone::pki;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[test]
    fn the_config_map_kube_apiserver_writes_parses_with_lower_cased_headers() {
        let ca = pki::new_ca("front-proxy-ca").unwrap();
        let data: BTreeMap<String, String> = [
            ("requestheader-client-ca-file", ca.cert_pem.as_str()),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            (
                "requestheader-extra-headers-prefix",
                r#"["X-Remote-Extra-"]"#,
            ),
            ("requestheader-uid-headers", "[]"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let trust = AuthenticationTrust::from_config_map(&data, &provider()).unwrap();
        assert!(trust.client_ca.is_none());
        let rh = trust.request_header.unwrap();
        assert_eq!(rh.allowed_names, ["front-proxy-client"]);
        assert_eq!(rh.username_headers, ["x-remote-user"]);
        assert_eq!(rh.extra_prefixes, ["x-remote-extra-"]);
        assert!(rh.uid_headers.is_empty());
    }

    #[test]
    fn a_broken_list_or_ca_names_its_key() {
        let ca = pki::new_ca("ca").unwrap();
        let data: BTreeMap<String, String> = [
            ("requestheader-client-ca-file", ca.cert_pem.as_str()),
            ("requestheader-allowed-names", "front-proxy-client"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let err = AuthenticationTrust::from_config_map(&data, &provider())
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("requestheader-allowed-names"));
        let data = BTreeMap::from([("client-ca-file".to_string(), "garbage".to_string())]);
        let err = AuthenticationTrust::from_config_map(&data, &provider())
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("client-ca-file"));
    }

    #[test]
    fn only_chains_signed_by_the_ca_verify() {
        let ca = pki::new_ca("ca").unwrap();
        let other = pki::new_ca("other").unwrap();
        let verifier = verifier("client-ca-file", &ca.cert_pem, &provider()).unwrap();
        let issue = |ca: &pki::CertifiedKey| {
            let issuer = pki::issuer(ca).unwrap();
            let pair = pki::issue_client(&issuer, "alice", &[]).unwrap();
            CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).unwrap()
        };
        assert!(chain_verifies(verifier.as_ref(), &[issue(&ca)]));
        assert!(!chain_verifies(verifier.as_ref(), &[issue(&other)]));
        assert!(!chain_verifies(verifier.as_ref(), &[]));
    }
}
