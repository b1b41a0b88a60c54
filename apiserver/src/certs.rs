//! `prepull-apiserver certs`: the TLS material of cluster mode. A CA made once (kept in the
//! output directory, so re-running renews only the serving certificate), the serving
//! certificate kube-apiserver verifies when it proxies to `<service>.<namespace>.svc`, and the
//! `caBundle` value for the APIServices. `manifests/` reads the files from `manifests/certs/`
//! (a Secret for the Deployment, the CA copied into both APIServices by kustomize).
//!
//! Rotation: run the command again and re-apply; kubelet updates the mounted Secret and the
//! running server serves the new certificate to new connections (it re-reads the files).

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
    let (ca, new_ca) = match read_ca(dir)? {
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
    Ok(Written {
        dir: dir.clone(),
        new_ca,
        sans,
    })
}

fn read_ca(dir: &Path) -> Result<Option<CertifiedKey>> {
    let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
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
        }
    }

    fn dns_names(pem: &str) -> Vec<String> {
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.as_ref().to_vec())
            .unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        san.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_serving_certificate_names_the_service_and_a_second_run_keeps_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(&options(dir.path())).unwrap();
        assert!(first.new_ca);
        let ca = std::fs::read_to_string(dir.path().join(CA_CERT)).unwrap();
        let serving = std::fs::read_to_string(dir.path().join(SERVING_CERT)).unwrap();
        let names = dns_names(&serving);
        assert!(names.contains(&"prepull-apiserver.prepull-system.svc".to_string()));
        assert!(names.contains(&"prepull-apiserver.prepull-system.svc.cluster.local".to_string()));
        assert!(names.contains(&"localhost".to_string()));
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
