//! The standalone certificate authority: made once in `<data-dir>/pki`, then reused, so every
//! kubeconfig and node certificate issued earlier stays valid across restarts.
//!
//! Files: `ca.crt`/`ca.key` (the CA, 10 years), `serving.crt`/`serving.key` (re-issued at every
//! start for the current SANs, 1 year, and while running when it has less than
//! [`RENEW_BEFORE`] left: [`renew_serving_if_due`]), `admin.crt`/`admin.key` (CN
//! `prepull-admin`, O `system:masters`, 1 year, re-issued at a start when it has less than
//! [`RENEW_BEFORE`] left; the admin kubeconfig is written anew at every start). Keys are ECDSA
//! P-256, written with mode 0600. Node certificates: see
//! [`node_certificates`](super::node_certificates).

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// A certificate with less than this left is re-issued.
pub const RENEW_BEFORE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// Days a leaf certificate (serving, admin, node) is valid.
const LEAF_DAYS: i64 = 365;

/// The admin identity written into the standalone kubeconfig.
pub const ADMIN_USER: &str = "prepull-admin";
/// The group every authorizer allows everything.
pub const ADMIN_GROUP: &str = "system:masters";

/// A certificate and its private key, PEM encoded.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The loaded standalone PKI.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    pub ca: CertifiedKey,
    pub serving: CertifiedKey,
    pub admin: CertifiedKey,
}

impl Pki {
    /// Loads the CA and admin certificate from `dir` (creating them the first time) and issues
    /// a fresh serving certificate for `localhost`, `127.0.0.1`, `::1` and `extra_sans`.
    pub fn ensure(dir: &Path, extra_sans: &[String]) -> Result<Pki> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca = match read_pair(dir, "ca")? {
            Some(ca) => ca,
            None => write_pair(dir, "ca", &new_ca("prepull-ca")?)?,
        };
        let issuer = issuer(&ca)?;
        let admin = match read_pair(dir, "admin")? {
            Some(admin) if !expires_within(&admin.cert_pem, RENEW_BEFORE)? => admin,
            _ => write_pair(
                dir,
                "admin",
                &issue_client(&issuer, ADMIN_USER, &[ADMIN_GROUP])?,
            )?,
        };
        let serving = write_pair(
            dir,
            "serving",
            &issue_serving(&issuer, &serving_sans(extra_sans))?,
        )?;
        Ok(Pki {
            dir: dir.to_path_buf(),
            ca,
            serving,
            admin,
        })
    }

    /// Issues a client certificate for `user` in `groups`, signed by this CA.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertifiedKey> {
        issue_client(&issuer(&self.ca)?, user, groups)
    }

    /// Path of the CA certificate (clients verify the server with it).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
}

/// The serving certificate's names: `localhost`, `127.0.0.1`, `::1` and `extra_sans`.
fn serving_sans(extra_sans: &[String]) -> Vec<String> {
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    sans.extend(extra_sans.iter().cloned());
    sans
}

/// Re-issues the serving certificate in `dir` (for the same names) when it has less than
/// `within` left, writing the key and then the certificate (a reader that sees the new key
/// with the old certificate keeps serving the old pair: see
/// [`crate::serve::ReloadingServingCert::reload`]). Returns whether it did.
pub fn renew_serving_if_due(
    dir: &Path,
    extra_sans: &[String],
    within: std::time::Duration,
) -> Result<bool> {
    let current = read_pair(dir, "serving")?;
    if let Some(current) = &current
        && !expires_within(&current.cert_pem, within)?
    {
        return Ok(false);
    }
    let ca = read_pair(dir, "ca")?.context("the CA is missing")?;
    write_pair(
        dir,
        "serving",
        &issue_serving(&issuer(&ca)?, &serving_sans(extra_sans))?,
    )?;
    Ok(true)
}

/// Whether the PEM certificate `cert_pem` expires less than `within` from now.
pub fn expires_within(cert_pem: &str, within: std::time::Duration) -> Result<bool> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).context("parsing a certificate")?;
    let cert = pem.parse_x509().context("parsing a certificate")?;
    let not_after = cert.validity().not_after.timestamp();
    let left = not_after.saturating_sub(OffsetDateTime::now_utc().unix_timestamp());
    Ok(left < i64::try_from(within.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn issuer(ca: &CertifiedKey) -> Result<Issuer<'static, KeyPair>> {
    let key = KeyPair::from_pem(&ca.key_pem).context("parsing the CA key")?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key).context("parsing the CA certificate")
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

pub(crate) fn new_ca(common_name: &str) -> Result<CertifiedKey> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(common_name, &[]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, 3650);
    let cert = params.self_signed(&key)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

pub(crate) fn issue_serving(issuer: &Issuer<'_, KeyPair>, sans: &[String]) -> Result<CertifiedKey> {
    issue_serving_for(issuer, sans, LEAF_DAYS)
}

fn issue_serving_for(
    issuer: &Issuer<'_, KeyPair>,
    sans: &[String],
    days: i64,
) -> Result<CertifiedKey> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name("prepull-apiserver", &[]);
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
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, days);
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

pub(crate) fn issue_client(
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<CertifiedKey> {
    issue_client_for(issuer, user, groups, LEAF_DAYS)
}

fn issue_client_for(
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    groups: &[&str],
    days: i64,
) -> Result<CertifiedKey> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(user, groups);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    validity(&mut params, days);
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn
}

fn read_pair(dir: &Path, stem: &str) -> Result<Option<CertifiedKey>> {
    let (cert, key) = (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    );
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    Ok(Some(CertifiedKey {
        cert_pem: fs::read_to_string(&cert)
            .with_context(|| format!("reading {}", cert.display()))?,
        key_pem: fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?,
    }))
}

fn write_pair(dir: &Path, stem: &str, pair: &CertifiedKey) -> Result<CertifiedKey> {
    write_file(
        &dir.join(format!("{stem}.key")),
        pair.key_pem.as_bytes(),
        0o600,
    )?;
    write_file(
        &dir.join(format!("{stem}.crt")),
        pair.cert_pem.as_bytes(),
        0o644,
    )?;
    Ok(pair.clone())
}

/// Writes `contents` to `path` atomically (temp file + rename) with `mode`.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_and_admin_survive_a_second_start_and_the_serving_cert_follows_the_sans() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::ensure(dir.path(), &[]).unwrap();
        let second = Pki::ensure(dir.path(), &["prepull.example.com".into()]).unwrap();
        assert_eq!(first.ca.cert_pem, second.ca.cert_pem);
        assert_eq!(first.admin.cert_pem, second.admin.cert_pem);
        assert_ne!(first.serving.cert_pem, second.serving.cert_pem);

        let der =
            rustls_pki_types::pem::PemObject::from_pem_slice(second.serving.cert_pem.as_bytes());
        let der: rustls_pki_types::CertificateDer<'_> = der.unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .len();
        assert_eq!(sans, 4, "localhost, 127.0.0.1, ::1 and the extra SAN");
    }

    #[test]
    fn an_issued_client_certificate_names_the_user_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::ensure(dir.path(), &[]).unwrap();
        let node = pki
            .issue_client("system:node:n1", &["system:nodes"])
            .unwrap();
        let der: rustls_pki_types::CertificateDer<'_> =
            rustls_pki_types::pem::PemObject::from_pem_slice(node.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let org = cert
            .subject()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            (cn.as_str(), org.as_str()),
            ("system:node:n1", "system:nodes")
        );
    }

    #[test]
    fn an_admin_certificate_near_its_end_is_reissued_at_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = Pki::ensure(dir.path(), &[]).unwrap();
        let short =
            issue_client_for(&issuer(&first.ca).unwrap(), ADMIN_USER, &[ADMIN_GROUP], 10).unwrap();
        write_pair(dir.path(), "admin", &short).unwrap();
        assert!(expires_within(&short.cert_pem, RENEW_BEFORE).unwrap());
        let second = Pki::ensure(dir.path(), &[]).unwrap();
        assert_ne!(second.admin.cert_pem, short.cert_pem);
        assert!(!expires_within(&second.admin.cert_pem, RENEW_BEFORE).unwrap());
        assert_eq!(second.ca.cert_pem, first.ca.cert_pem, "the CA stays");
    }

    #[test]
    fn a_serving_certificate_near_its_end_is_renewed_and_a_fresh_one_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki::ensure(dir.path(), &[]).unwrap();
        assert!(!renew_serving_if_due(dir.path(), &[], RENEW_BEFORE).unwrap());
        let short = issue_serving_for(&issuer(&pki.ca).unwrap(), &serving_sans(&[]), 5).unwrap();
        write_pair(dir.path(), "serving", &short).unwrap();
        assert!(renew_serving_if_due(dir.path(), &[], RENEW_BEFORE).unwrap());
        let renewed = read_pair(dir.path(), "serving").unwrap().unwrap();
        assert!(!expires_within(&renewed.cert_pem, RENEW_BEFORE).unwrap());
    }
}
