//! `prepull-apiserver certs`: the TLS material of cluster mode. A CA made once (kept in the
//! output directory, so re-running renews only the serving certificate), the serving
//! certificate kube-apiserver verifies when it proxies to `<service>.<namespace>.svc`, and the
//! `caBundle` value for the APIServices; and etcd's own CA, serving certificate and the API
//! server's etcd client certificate ([`etcd`]). `manifests/` reads the files from
//! `manifests/certs/` (Secrets for the Deployment and etcd, the CA copied into both
//! APIServices by kustomize).
//!
//! Rotation: run the command again and re-apply; kubelet updates the mounted Secret and the
//! running server serves the new certificate to new connections (it re-reads the files).
//! etcd re-reads its certificate per connection; the API server reads its etcd client
//! certificate at start (a rollout restart picks up a new one; the old one stays valid).

pub mod etcd;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;

use crate::options::CertsOptions;
use crate::standalone::pki::{self, CertifiedKey};

/// Files written into the output directory.
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVING_CERT: &str = "tls.crt";
pub const SERVING_KEY: &str = "tls.key";
/// The base64 `caBundle` of the APIServices, on one line.
pub const CA_BUNDLE: &str = "ca-bundle.base64";

/// What [`write`] produced.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    /// Whether the CA was made now (false: an existing one was reused).
    pub new_ca: bool,
    /// The serving certificate's names.
    pub sans: Vec<String>,
    /// What was made for etcd.
    pub etcd: etcd::EtcdWritten,
}

/// The DNS names kube-apiserver and in-cluster clients use for the Service.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Makes (or reuses) the CA in `options.out` and issues a fresh serving certificate.
pub fn write(options: &CertsOptions) -> Result<Written> {
    let dir = &options.out;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (ca, new_ca) = match read_pair(dir, CA_CERT, CA_KEY)? {
        Some(ca) => (ca, false),
        None => {
            let ca = pki::new_ca(&format!(
                "prepull-ca@{}.{}",
                options.service, options.namespace
            ))?;
            pki::write_file(&dir.join(CA_KEY), ca.key_pem.as_bytes(), 0o600)?;
            pki::write_file(&dir.join(CA_CERT), ca.cert_pem.as_bytes(), 0o644)?;
            (ca, true)
        }
    };
    let mut sans = service_names(&options.service, &options.namespace);
    sans.extend(options.sans.iter().cloned());
    let serving = pki::issue_serving(&pki::issuer(&ca)?, &sans)?;
    // Key first: a reader seeing the new certificate then also finds its key.
    pki::write_file(&dir.join(SERVING_KEY), serving.key_pem.as_bytes(), 0o600)?;
    pki::write_file(&dir.join(SERVING_CERT), serving.cert_pem.as_bytes(), 0o644)?;
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca.cert_pem.as_bytes());
    pki::write_file(
        &dir.join(CA_BUNDLE),
        format!("{bundle}\n").as_bytes(),
        0o644,
    )?;
    let etcd = etcd::write(dir, &options.etcd_service, &options.namespace)?;
    Ok(Written {
        dir: dir.clone(),
        new_ca,
        sans,
        etcd,
    })
}

/// The certificate and key in `dir` named `cert_name` and `key_name`, `None` unless both exist.
fn read_pair(dir: &Path, cert_name: &str, key_name: &str) -> Result<Option<CertifiedKey>> {
    let (cert, key) = (dir.join(cert_name), dir.join(key_name));
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(Some(CertifiedKey {
        cert_pem: read(&cert)?,
        key_pem: read(&key)?,
    }))
}

#[cfg(test)]
mod tests {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    use super::*;

    fn options(out: &Path) -> CertsOptions {
        CertsOptions {
            service: "prepull-apiserver".into(),
            namespace: "prepull-system".into(),
            out: out.to_path_buf(),
            sans: vec!["localhost".into()],
            etcd_service: "prepull-etcd".into(),
        }
    }

    fn der(pem: &str) -> Vec<u8> {
        rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.as_ref().to_vec())
            .unwrap()
    }

    /// The DNS names and IP addresses (as text) of the certificate in `pem`.
    fn names(pem: &str) -> Vec<String> {
        let der = der(pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        san.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                GeneralName::IPAddress(ip) => <[u8; 4]>::try_from(*ip)
                    .ok()
                    .map(|v4| std::net::Ipv4Addr::from(v4).to_string()),
                _ => None,
            })
            .collect()
    }

    /// Whether the certificate in `pem` is good for TLS servers and for TLS clients.
    fn usages(pem: &str) -> (bool, bool) {
        let der = der(pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        (eku.server_auth, eku.client_auth)
    }

    fn issued_by(pem: &str, ca_pem: &str) -> bool {
        let (cert_der, ca_der) = (der(pem), der(ca_pem));
        let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn etcd_gets_its_own_ca_a_server_certificate_for_its_pods_and_a_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(&options(dir.path())).unwrap();
        assert!(written.etcd.new_ca);
        let (ca, etcd_ca) = (
            read(dir.path(), CA_CERT),
            read(dir.path(), etcd::ETCD_CA_CERT),
        );
        assert_ne!(ca, etcd_ca, "etcd trusts a CA of its own");
        let server = read(dir.path(), etcd::ETCD_SERVER_CERT);
        let server_names = names(&server);
        for name in [
            "prepull-etcd",
            "prepull-etcd.prepull-system.svc",
            "*.prepull-etcd.prepull-system.svc",
            "*.prepull-etcd.prepull-system.svc.cluster.local",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(
                server_names.contains(&name.to_string()),
                "{name}: {server_names:?}"
            );
        }
        assert_eq!(written.etcd.sans, server_names);
        assert_eq!(
            usages(&server),
            (true, true),
            "etcd's gateway dials etcd with it"
        );
        let client = read(dir.path(), etcd::ETCD_CLIENT_CERT);
        assert_eq!(usages(&client), (false, true));
        assert!(issued_by(&server, &etcd_ca) && issued_by(&client, &etcd_ca));
        assert!(
            !issued_by(&client, &ca),
            "the API server's CA cannot open etcd"
        );
        for key in [
            etcd::ETCD_CA_KEY,
            etcd::ETCD_SERVER_KEY,
            etcd::ETCD_CLIENT_KEY,
        ] {
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(dir.path().join(key))
                    .unwrap()
                    .permissions(),
            );
            assert_eq!(mode & 0o077, 0, "{key} is private");
        }

        let again = write(&options(dir.path())).unwrap();
        assert!(!again.etcd.new_ca);
        assert_eq!(read(dir.path(), etcd::ETCD_CA_CERT), etcd_ca);
        assert_ne!(read(dir.path(), etcd::ETCD_CLIENT_CERT), client);
    }

    #[test]
    fn the_serving_certificate_names_the_service_and_a_second_run_keeps_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(&options(dir.path())).unwrap();
        assert!(first.new_ca);
        let ca = std::fs::read_to_string(dir.path().join(CA_CERT)).unwrap();
        let serving = std::fs::read_to_string(dir.path().join(SERVING_CERT)).unwrap();
        let serving_names = names(&serving);
        assert!(serving_names.contains(&"prepull-apiserver.prepull-system.svc".to_string()));
        assert!(
            serving_names
                .contains(&"prepull-apiserver.prepull-system.svc.cluster.local".to_string())
        );
        assert!(serving_names.contains(&"localhost".to_string()));
        let bundle = std::fs::read_to_string(dir.path().join(CA_BUNDLE)).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(bundle.trim())
            .unwrap();
        assert_eq!(decoded, ca.as_bytes());

        let second = write(&options(dir.path())).unwrap();
        assert!(!second.new_ca);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CA_CERT)).unwrap(),
            ca
        );
        assert_ne!(
            std::fs::read_to_string(dir.path().join(SERVING_CERT)).unwrap(),
            serving
        );
    }
}
