//! The etcd part of `prepull-apiserver certs`: a CA of etcd's own (kept apart from the API
//! server's, so no certificate that CA signs for kube-apiserver's sake can open etcd), etcd's
//! serving certificate, and the client certificate the API server presents to etcd (which runs
//! with `--client-cert-auth`). The CA is made once and reused; both certificates are re-issued
//! on every run.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::standalone::pki::{self, CertifiedKey};

/// etcd's CA (`--trusted-ca-file` of etcd, `--etcd-cafile` of the API server) and its key.
pub const ETCD_CA_CERT: &str = "etcd-ca.crt";
pub const ETCD_CA_KEY: &str = "etcd-ca.key";
/// etcd's serving certificate (`--cert-file`/`--key-file` of etcd).
pub const ETCD_SERVER_CERT: &str = "etcd-server.crt";
pub const ETCD_SERVER_KEY: &str = "etcd-server.key";
/// The API server's client certificate (`--etcd-certfile`/`--etcd-keyfile`).
pub const ETCD_CLIENT_CERT: &str = "etcd-client.crt";
pub const ETCD_CLIENT_KEY: &str = "etcd-client.key";

/// The client certificate's common name (etcd's user name, should etcd auth be enabled).
pub const ETCD_CLIENT_NAME: &str = "prepull-apiserver";

/// Validity of the serving and client certificates, in days.
const LEAF_DAYS: i64 = 365;

/// What [`write`] produced for etcd.
#[derive(Debug)]
pub struct EtcdWritten {
    /// Whether etcd's CA was made now (false: an existing one was reused).
    pub new_ca: bool,
    /// The serving certificate's names.
    pub sans: Vec<String>,
}

/// The names clients and etcd members use for etcd behind the headless Service `service`
/// of a StatefulSet: the Service's names, every pod's (`<pod>.<service>.<namespace>.svc`, as a
/// wildcard so scaling needs no new certificate), and loopback for clients in etcd's own pod.
pub fn etcd_names(service: &str, namespace: &str) -> Vec<String> {
    let mut names = super::service_names(service, namespace);
    names.push(format!("*.{service}.{namespace}.svc"));
    names.push(format!("*.{service}.{namespace}.svc.cluster.local"));
    names.push("localhost".to_string());
    names.push("127.0.0.1".to_string());
    names
}

/// Makes (or reuses) etcd's CA in `dir` and issues etcd's serving certificate for
/// [`etcd_names`] of `service` in `namespace`, and the API server's client certificate.
pub fn write(dir: &Path, service: &str, namespace: &str) -> Result<EtcdWritten> {
    let (ca, new_ca) = match super::read_pair(dir, ETCD_CA_CERT, ETCD_CA_KEY)? {
        Some(ca) => (ca, false),
        None => {
            let ca = pki::new_ca(&format!("prepull-etcd-ca@{service}.{namespace}"))?;
            pki::write_file(&dir.join(ETCD_CA_KEY), ca.key_pem.as_bytes(), 0o600)?;
            pki::write_file(&dir.join(ETCD_CA_CERT), ca.cert_pem.as_bytes(), 0o644)?;
            (ca, true)
        }
    };
    let issuer = pki::issuer(&ca)?;
    let sans = etcd_names(service, namespace);
    let server = issue_server(&issuer, service, &sans)?;
    let client = pki::issue_client(&issuer, ETCD_CLIENT_NAME, &[])?;
    // Keys first: a reader seeing a new certificate then also finds its key.
    for (pair, cert, key) in [
        (&server, ETCD_SERVER_CERT, ETCD_SERVER_KEY),
        (&client, ETCD_CLIENT_CERT, ETCD_CLIENT_KEY),
    ] {
        pki::write_file(&dir.join(key), pair.key_pem.as_bytes(), 0o600)?;
        pki::write_file(&dir.join(cert), pair.cert_pem.as_bytes(), 0o644)?;
    }
    Ok(EtcdWritten { new_ca, sans })
}

/// etcd's serving certificate. It carries the clientAuth usage too: etcd's gRPC gateway dials
/// etcd's own client port with it, which `--client-cert-auth` refuses otherwise.
fn issue_server(
    issuer: &Issuer<'_, KeyPair>,
    service: &str,
    sans: &[String],
) -> Result<CertifiedKey> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, service);
    params.distinguished_name = name;
    for san in sans {
        params.subject_alt_names.push(match san.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                san.clone()
                    .try_into()
                    .with_context(|| format!("invalid SAN {san:?}"))?,
            ),
        });
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(LEAF_DAYS);
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
