//! Cluster mode's TLS client-certificate policy: ask every client for a certificate, check only
//! that it holds the certificate's key, and leave trust to authentication.
//!
//! Which CAs to trust (`client-ca-file`, `requestheader-client-ca-file`) comes from a ConfigMap
//! that changes while connections are open, and which CA signed a certificate decides what it
//! means (a front proxy or a user), so the chain is verified per request by
//! [`crate::auth::delegated`], as kube-apiserver does. A certificate that verifies against
//! neither CA is never trusted: the request is refused 401.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::serving_cert::ReloadingServingCert;

/// Requests an optional client certificate and accepts any whose holder proves possession of
/// its key; chain verification happens later, per request.
#[derive(Debug)]
pub struct RequestClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl RequestClientCertificate {
    pub fn new(provider: Arc<CryptoProvider>) -> RequestClientCertificate {
        RequestClientCertificate { provider }
    }
}

impl ClientCertVerifier for RequestClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // An empty list lets clients send any certificate (Go's and rustls' clients do).
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Cluster mode's TLS configuration: the (reloading) serving certificate, client certificates
/// requested but verified per request, ALPN h2 and http/1.1.
pub fn cluster_tls_config(
    serving: Arc<ReloadingServingCert>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(RequestClientCertificate::new(provider)))
        .with_cert_resolver(serving);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
