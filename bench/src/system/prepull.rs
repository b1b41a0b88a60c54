//! Prepull's API server (the release binary), standalone with etcd storage (or its embedded
//! store) and its scheduler off: the CRD path runs no controller either, so both serve the API
//! and nothing else.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result};
use prepull_testbed::{Etcd, free_loopback_port};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use super::{Endpoint, System, start_etcd, wait_until_serving};

/// Prepull's API server, serving.
#[derive(Debug)]
pub struct Prepull {
    endpoint: Endpoint,
    // Dropped in this order: the server (killed on drop) before its etcd and data dir.
    _child: Child,
    _etcd: Etcd,
    _dir: TempDir,
}

impl Prepull {
    /// Starts etcd and `binary --standalone --etcd-servers ... --disable-scheduler` and waits
    /// until it serves. With `embedded`, the server keeps its objects in its embedded store
    /// instead (etcd still runs, idle, so the figures keep their shape).
    pub async fn start(binary: &Path, embedded: bool) -> Result<Prepull> {
        let (etcd, etcd_pid) = start_etcd().await?;
        let dir = tempfile::Builder::new()
            .prefix("prepull-bench-")
            .tempdir()?;
        let port = free_loopback_port()?;
        let mut command = Command::new(binary);
        command
            .args(["--standalone", "--disable-scheduler", "--data-dir"])
            .arg(dir.path());
        if !embedded {
            command.args(["--etcd-servers", &etcd.endpoint()]);
        }
        let child = command
            .args(["--secure-port", &port.to_string()])
            .args(["--http2-max-streams", "4096"])
            .env("PREPULL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let pid = child.id().context("prepull-apiserver exited")?;
        let pki = dir.path().join("pki");
        // The server writes its certificates before it listens.
        let mut tls = tls_config(&pki);
        for _ in 0..300 {
            if tls.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            tls = tls_config(&pki);
        }
        let tls = tls.context("reading the server's generated certificates")?;
        wait_until_serving(port, &tls, "/readyz").await?;
        Ok(Prepull {
            endpoint: Endpoint {
                name: if embedded {
                    "prepull (embedded store)"
                } else {
                    "prepull"
                },
                port,
                tls,
                pid,
                etcd_pid,
            },
            _child: child,
            _etcd: etcd,
            _dir: dir,
        })
    }
}

impl System for Prepull {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Trusts the standalone CA and presents the admin certificate (`<data-dir>/pki`).
fn tls_config(pki: &Path) -> Result<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.join("ca.crt"))? {
        roots.add(cert?)?;
    }
    let certs =
        CertificateDer::pem_file_iter(pki.join("admin.crt"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(pki.join("admin.key"))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)?)
}
