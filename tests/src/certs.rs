//! Certificates for tests: a CA, serving and client certificates it signs, and a
//! service-account signing key pair. All keys are ECDSA P-256, all PEM is PKCS#8 / X.509.
//!
//! Kubernetes reads a client certificate's CN as the user name and its O values as groups.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed certificate authority that signs serving and client certificates.
#[derive(Debug)]
pub struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl CertificateAuthority {
    /// A new CA whose subject is `CN=<common_name>`.
    pub fn new(common_name: &str) -> anyhow::Result<CertificateAuthority> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)
            .context("self-signing a CA")?;
        Ok(CertificateAuthority { issuer })
    }

    /// The CA certificate in PEM: what goes into `--client-ca-file`, a kubeconfig's
    /// `certificate-authority` or an APIService `caBundle`.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate in DER, for a rustls root store.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Writes the CA certificate (not its key) to `path`.
    pub fn write_cert(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.cert_pem()).with_context(|| format!("writing {}", path.display()))
    }

    /// A TLS server certificate for `common_name`, valid for each of `sans`: entries that parse
    /// as IP addresses become IP SANs, the others DNS SANs.
    pub fn issue_serving(&self, common_name: &str, sans: &[&str]) -> anyhow::Result<IssuedCert> {
        let mut params = serving_params(common_name, sans)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// Like [`CertificateAuthority::issue_serving`], also good as a client certificate: for a
    /// server that dials itself or its peers with it (etcd's gRPC gateway connects to etcd's
    /// own client port with the server certificate, refused under `--client-cert-auth`
    /// without the clientAuth usage).
    pub fn issue_serving_and_client(
        &self,
        common_name: &str,
        sans: &[&str],
    ) -> anyhow::Result<IssuedCert> {
        let mut params = serving_params(common_name, sans)?;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.issue(params)
    }

    /// A TLS client certificate for `user` (the CN) in `group` (the O), if any.
    ///
    /// At most one group: rcgen's distinguished names hold one value per attribute type.
    /// Tests needing several groups can bind roles to the user or use request headers.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> anyhow::Result<IssuedCert> {
        let mut params = leaf_params(user);
        match groups {
            [] => {}
            [group] => params
                .distinguished_name
                .push(DnType::OrganizationName, *group),
            _ => bail!("a test client certificate carries at most one group, got {groups:?}"),
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> anyhow::Result<IssuedCert> {
        let key = KeyPair::generate()?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing a certificate")?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

/// A leaf for `common_name` valid for `sans` (IP or DNS SANs), with the usages a TLS server
/// key needs; the extended usages are the caller's.
fn serving_params(common_name: &str, sans: &[&str]) -> anyhow::Result<CertificateParams> {
    let mut params = leaf_params(common_name);
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName((*san).try_into()?)),
        })
        .collect::<anyhow::Result<_>>()?;
    params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    Ok(params)
}

fn leaf_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params
}

/// A certificate signed by a [`CertificateAuthority`], with its private key.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate in PEM.
    pub cert_pem: String,
    /// The private key in PKCS#8 PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl IssuedCert {
    /// The certificate in DER, for rustls.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// The private key in DER, for rustls.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `<stem>.crt` and `<stem>.key` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<PemFiles> {
        let files = PemFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        };
        std::fs::write(&files.cert, &self.cert_pem)
            .with_context(|| format!("writing {}", files.cert.display()))?;
        std::fs::write(&files.key, &self.key_pem)
            .with_context(|| format!("writing {}", files.key.display()))?;
        Ok(files)
    }
}

/// Where an [`IssuedCert`] was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemFiles {
    /// The certificate (`--tls-cert-file`, `client-certificate`).
    pub cert: PathBuf,
    /// The private key (`--tls-private-key-file`, `client-key`).
    pub key: PathBuf,
}

/// A key pair for signing and verifying service-account tokens
/// (`--service-account-signing-key-file` and `--service-account-key-file`).
#[derive(Debug, Clone)]
pub struct ServiceAccountKeys {
    /// The private key in PKCS#8 PEM.
    pub private_key_pem: String,
    /// The public key in SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
}

impl ServiceAccountKeys {
    /// A fresh ECDSA P-256 key pair (tokens are then signed with ES256).
    pub fn generate() -> anyhow::Result<ServiceAccountKeys> {
        let key = KeyPair::generate()?;
        Ok(ServiceAccountKeys {
            private_key_pem: key.serialize_pem(),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// Writes `<stem>.key` (private) and `<stem>.pub` (public) into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<ServiceAccountKeyFiles> {
        let files = ServiceAccountKeyFiles {
            private_key: dir.join(format!("{stem}.key")),
            public_key: dir.join(format!("{stem}.pub")),
        };
        std::fs::write(&files.private_key, &self.private_key_pem)
            .with_context(|| format!("writing {}", files.private_key.display()))?;
        std::fs::write(&files.public_key, &self.public_key_pem)
            .with_context(|| format!("writing {}", files.public_key.display()))?;
        Ok(files)
    }
}

/// Where [`ServiceAccountKeys`] were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKeyFiles {
    /// The private key (`--service-account-signing-key-file`, and the controller manager's
    /// `--service-account-private-key-file`).
    pub private_key: PathBuf,
    /// The public key (`--service-account-key-file`).
    pub public_key: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_are_pem_and_carry_their_key() {
        let ca = CertificateAuthority::new("test-ca").expect("CA");
        let serving = ca
            .issue_serving("server", &["127.0.0.1", "localhost"])
            .expect("serving cert");
        let client = ca.issue_client("alice", &["devs"]).expect("client cert");
        for cert in [&serving, &client] {
            assert!(
                cert.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
                "{}",
                cert.cert_pem
            );
            assert!(
                cert.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{}",
                cert.key_pem
            );
        }
        assert_ne!(serving.cert_pem, client.cert_pem);
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn a_client_certificate_with_two_groups_is_refused() {
        let ca = CertificateAuthority::new("test-ca").expect("CA");
        let error = ca
            .issue_client("bob", &["a", "b"])
            .expect_err("two groups are refused");
        assert!(error.to_string().contains("at most one group"), "{error}");
    }

    #[test]
    fn service_account_keys_are_a_pem_key_pair() {
        let keys = ServiceAccountKeys::generate().expect("keys");
        assert!(
            keys.private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(
            keys.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }
}
