//! Why a TLS connection to etcd failed, found out after the fact.
//!
//! Under TLS 1.3 a client's handshake is complete before etcd has checked the client
//! certificate. etcd's refusal (a `bad_certificate` alert) then races with gRPC's first writes,
//! and the call fails with a bare "transport error", "broken pipe" or "operation was canceled".
//! After such a failure, [`explain`] makes one handshake of its own that writes nothing and
//! waits for etcd's verdict, which names the real reason.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls::EtcdTls;

/// How long to wait after the handshake for etcd to refuse the client certificate. etcd
/// answers at once; a connection it accepted stays silent (session tickets aside).
const VERDICT_WAIT: Duration = Duration::from_millis(500);

/// What went wrong with TLS to the first of `endpoints` whose handshake fails or is refused,
/// or `None` when each either is not reachable at all (not a TLS problem) or accepts us.
/// Each step has `dial_timeout`; the whole takes at most about `3 * dial_timeout` per
/// endpoint.
pub(crate) async fn explain(
    endpoints: &[String],
    tls: &EtcdTls,
    dial_timeout: Duration,
) -> Option<String> {
    let config = match client_config(tls) {
        Ok(config) => config,
        Err(reason) => return Some(reason),
    };
    for endpoint in endpoints {
        if let Some(reason) = probe(endpoint, config.clone(), dial_timeout).await {
            return Some(reason);
        }
    }
    None
}

async fn probe(
    endpoint: &str,
    config: Arc<ClientConfig>,
    dial_timeout: Duration,
) -> Option<String> {
    let (host, port) = host_and_port(endpoint)?;
    let name = ServerName::try_from(host.clone()).ok()?;
    let tcp = tokio::time::timeout(dial_timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .ok()?
        .ok()?;
    let handshake = TlsConnector::from(config).connect(name, tcp);
    let mut stream = match tokio::time::timeout(dial_timeout, handshake).await {
        Err(_) => return Some(format!("TLS handshake with etcd at {endpoint} timed out")),
        Ok(Err(err)) => {
            return Some(format!(
                "TLS handshake with etcd at {endpoint} failed: {err}"
            ));
        }
        Ok(Ok(stream)) => stream,
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(VERDICT_WAIT.min(dial_timeout), stream.read(&mut byte)).await {
        Ok(Err(err)) => Some(format!(
            "etcd at {endpoint} refused this client's TLS certificate ({err}): the client \
             certificate is missing, expired, or not signed by a CA etcd trusts"
        )),
        Ok(Ok(0)) => Some(format!(
            "etcd at {endpoint} closed the connection right after the TLS handshake"
        )),
        // Data, or silence: etcd accepted the handshake.
        Ok(Ok(_)) | Err(_) => None,
    }
}

/// `host` and `port` of `https://host:port/...` (port 2379 when absent; IPv6 in brackets).
fn host_and_port(endpoint: &str) -> Option<(String, u16)> {
    let authority = endpoint.strip_prefix("https://")?.split('/').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (authority, 2379),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port))
}

/// A rustls client configuration with the same trust and identity as the etcd client's.
fn client_config(tls: &EtcdTls) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match tls.ca_pem() {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok) {
                roots.add(cert).map_err(|err| format!("etcd CA: {err}"))?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .with_root_certificates(roots);
    let mut config = match tls.client_pem() {
        Some((cert_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .filter_map(Result::ok)
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|err| format!("etcd client key: {err}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| format!("etcd client certificate: {err}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn host_and_port_come_from_https_urls() {
        assert_eq!(
            host_and_port("https://127.0.0.1:2379"),
            Some(("127.0.0.1".into(), 2379))
        );
        assert_eq!(
            host_and_port("https://etcd.ns.svc/"),
            Some(("etcd.ns.svc".into(), 2379))
        );
        assert_eq!(
            host_and_port("https://[::1]:32379"),
            Some(("::1".into(), 32379))
        );
        assert_eq!(host_and_port("https://[::1]"), Some(("::1".into(), 2379)));
        assert_eq!(host_and_port("http://127.0.0.1:2379"), None);
    }
}
