//! The rustls server configuration.

use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::RootCertStore;
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The client's certificate chain (leaf first), or empty for a client that sent none. Verified
/// against the client CA in standalone mode; in cluster mode only proven to be held by the client
/// (authentication verifies the chain).
/// Inserted into every request of the connection.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// A TLS configuration serving `cert_pem`/`key_pem`, offering h2 and http/1.1, and verifying
/// client certificates against `client_ca_pem` when given. Clients without a certificate are
/// still accepted (they are anonymous; authorization decides what they may do).
pub fn server_tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("parsing the serving certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("parsing the serving key")?;
    let mut config = verifying_builder(client_ca_pem)?
        .with_single_cert(certs, key)
        .context("serving certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Like [`server_tls_config`], serving whatever certificate `resolver` holds at each
/// handshake (standalone mode: [`super::ReloadingServingCert`] over the renewed files).
pub fn server_tls_config_resolving(
    resolver: Arc<dyn ResolvesServerCert>,
    client_ca_pem: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>> {
    let mut config = verifying_builder(client_ca_pem)?.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration builder verifying client certificates against `client_ca_pem`
/// when given (clients without one are accepted as anonymous).
fn verifying_builder(
    client_ca_pem: Option<&str>,
) -> Result<rustls::ConfigBuilder<rustls::ServerConfig, rustls::server::WantsServerCert>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca_pem {
        Some(ca_pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                roots
                    .add(cert.context("parsing the client CA")?)
                    .context("adding the client CA")?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Ok(builder)
}
