//! Node certificates on record, and their revocation (standalone mode).
//!
//! Every certificate `node-kubeconfig NODE` issues is recorded in `<data-dir>/pki/issued-nodes`
//! (`<serial> <node> <issued at>` per line). `revoke-node NODE` copies the serials of every
//! certificate issued to NODE so far into `<data-dir>/pki/revoked-serials`; the running
//! server re-reads that file when it changes ([`RevokedCertificates`]) and refuses those
//! certificates (401) from then on. A new `node-kubeconfig NODE` afterwards issues a
//! certificate with a new serial, which is not revoked: that is how a reinstalled node comes
//! back.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use parking_lot::Mutex;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The record of issued node certificates, in the PKI directory.
pub const ISSUED_FILE: &str = "issued-nodes";
/// The revoked serials, in the PKI directory.
pub const REVOKED_FILE: &str = "revoked-serials";
/// How often the server looks at the revocation file at most.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// The serial number of a PEM certificate, as lower-case hex.
pub fn serial_of_pem(cert_pem: &str) -> Result<String> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).context("parsing the certificate")?;
    serial_of_der(&pem.contents).context("parsing the certificate")
}

/// The serial number of a DER certificate, as lower-case hex.
pub fn serial_of_der(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(hex(cert.raw_serial()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `line` to `path` (created 0600), synced.
fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()?;
    Ok(())
}

/// Records that the certificate `cert_pem` was issued to `node`.
pub fn record_issued(pki_dir: &Path, node: &str, cert_pem: &str) -> Result<()> {
    let serial = serial_of_pem(cert_pem)?;
    let now = jiff::Timestamp::now();
    append_line(
        &pki_dir.join(ISSUED_FILE),
        &format!("{serial} {node} {now}"),
    )
}

/// What [`revoke_node`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Revoked {
    /// Serials newly revoked.
    pub newly: usize,
    /// Serials of the node that were revoked already.
    pub already: usize,
}

/// Revokes every certificate on record for `node` (see the module). Fails when none was ever
/// issued to it here.
pub fn revoke_node(pki_dir: &Path, node: &str) -> Result<Revoked> {
    let issued = read_lines(&pki_dir.join(ISSUED_FILE))?;
    let serials: BTreeSet<String> = issued
        .iter()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let serial = fields.next()?;
            (fields.next()? == node).then(|| serial.to_owned())
        })
        .collect();
    if serials.is_empty() {
        bail!(
            "no certificate issued to node {node:?} is on record in {}",
            pki_dir.join(ISSUED_FILE).display()
        );
    }
    let revoked_path = pki_dir.join(REVOKED_FILE);
    let revoked = revoked_serials(&read_lines(&revoked_path)?);
    let mut result = Revoked {
        newly: 0,
        already: 0,
    };
    for serial in serials {
        if revoked.contains(&serial) {
            result.already += 1;
        } else {
            append_line(&revoked_path, &format!("{serial} {node}"))?;
            result.newly += 1;
        }
    }
    Ok(result)
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

fn revoked_serials(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The revoked serials, as the running server sees them: the file is looked at again at most
/// once a second and re-read when its modification time or size changed. An unreadable file
/// keeps the last revocations (and is logged), so a revocation is never lost by a failed read.
#[derive(Debug)]
pub struct RevokedCertificates {
    path: PathBuf,
    state: Mutex<Seen>,
}

#[derive(Debug)]
struct Seen {
    checked: Option<Instant>,
    stamp: Option<(SystemTime, u64)>,
    serials: BTreeSet<String>,
}

impl RevokedCertificates {
    /// Revocations from `<pki_dir>/revoked-serials`.
    pub fn new(pki_dir: &Path) -> RevokedCertificates {
        RevokedCertificates {
            path: pki_dir.join(REVOKED_FILE),
            state: Mutex::new(Seen {
                checked: None,
                stamp: None,
                serials: BTreeSet::new(),
            }),
        }
    }

    /// Whether the DER certificate `der` is revoked.
    pub fn is_revoked(&self, der: &[u8]) -> bool {
        let Some(serial) = serial_of_der(der) else {
            return false;
        };
        let mut seen = self.state.lock();
        let due = seen.checked.is_none_or(|at| at.elapsed() >= RECHECK_EVERY);
        if due {
            seen.checked = Some(Instant::now());
            let stamp = fs::metadata(&self.path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            if stamp != seen.stamp {
                match read_lines(&self.path) {
                    Ok(lines) => {
                        seen.serials = revoked_serials(&lines);
                        seen.stamp = stamp;
                    }
                    Err(err) => tracing::warn!(%err, "keeping the revocations read before"),
                }
            }
        }
        seen.serials.contains(&serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standalone::pki::Pki;

    #[test]
    fn revoking_a_node_refuses_its_certificates_but_not_later_ones_or_others() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::ensure(dir.path(), &[]).unwrap();
        let issue = |node: &str| {
            let cert = pki
                .issue_client(&format!("system:node:{node}"), &["system:nodes"])
                .unwrap();
            record_issued(dir.path(), node, &cert.cert_pem).unwrap();
            let (_, pem) = x509_parser::pem::parse_x509_pem(cert.cert_pem.as_bytes()).unwrap();
            pem.contents
        };
        let (n1_old, n2) = (issue("n1"), issue("n2"));
        let revocations = RevokedCertificates::new(dir.path());
        assert!(!revocations.is_revoked(&n1_old));

        assert_eq!(
            revoke_node(dir.path(), "n1").unwrap(),
            Revoked {
                newly: 1,
                already: 0
            }
        );
        let fresh = RevokedCertificates::new(dir.path());
        assert!(fresh.is_revoked(&n1_old));
        assert!(!fresh.is_revoked(&n2));
        let n1_new = issue("n1");
        assert!(
            !fresh.is_revoked(&n1_new),
            "a certificate issued afterwards works"
        );
        assert_eq!(
            revoke_node(dir.path(), "n1").unwrap(),
            Revoked {
                newly: 1,
                already: 1
            }
        );
        assert!(revoke_node(dir.path(), "never-issued").is_err());
    }
}
