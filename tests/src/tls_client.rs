//! rustls client configurations for talking to the services the harness starts.

use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::certs::IssuedCert;

/// A TLS client configuration trusting only `roots`, presenting `identity` as its client
/// certificate when given.
///
/// Uses the ring provider explicitly, so it works whichever rustls crypto features other
/// crates of the workspace enable.
pub fn tls_client_config(
    roots: &[CertificateDer<'static>],
    identity: Option<&IssuedCert>,
) -> anyhow::Result<Arc<ClientConfig>> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store
            .add(root.clone())
            .context("adding a root certificate")?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .with_root_certificates(store);
    let config = match identity {
        Some(cert) => builder
            .with_client_auth_cert(vec![cert.cert_der()], cert.key_der())
            .context("loading the client certificate")?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
