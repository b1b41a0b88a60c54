//! A serving certificate read from files and re-read when they change, so a rotated
//! certificate (a renewed Secret mounted into the pod, a `certs` run) is served without a
//! restart. New TLS handshakes get the new certificate; open connections keep theirs.

use parking_lot::RwLock;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

/// Why a certificate/key pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ServingCertError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the key in {key} does not match the certificate in {cert}: {message}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// The serving certificate and key files, loaded; a [`ResolvesServerCert`] for rustls.
pub struct ReloadingServingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

struct Loaded {
    /// The file contents the key was made from, to notice changes.
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    key: Arc<CertifiedKey>,
}

impl ReloadingServingCert {
    /// Loads `cert_path` (PEM chain, leaf first) and `key_path` (PEM private key); fails when
    /// either is missing, unparsable, or they do not belong together.
    pub fn load(
        cert_path: &Path,
        key_path: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingServingCert, ServingCertError> {
        let (cert_pem, key_pem) = read_pair(cert_path, key_path)?;
        let key = certified_key(cert_path, key_path, &cert_pem, &key_pem, &provider)?;
        Ok(ReloadingServingCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: RwLock::new(Loaded {
                cert_pem,
                key_pem,
                key,
            }),
        })
    }

    /// Re-reads both files; when their contents changed and form a valid pair, later
    /// handshakes serve it. Returns whether the certificate changed. A half-written or
    /// mismatched pair (the files are replaced one after the other) is an error and the
    /// previous certificate stays.
    pub fn reload(&self) -> Result<bool, ServingCertError> {
        let (cert_pem, key_pem) = read_pair(&self.cert_path, &self.key_path)?;
        {
            let current = self.current.read();
            if current.cert_pem == cert_pem && current.key_pem == key_pem {
                return Ok(false);
            }
        }
        let key = certified_key(
            &self.cert_path,
            &self.key_path,
            &cert_pem,
            &key_pem,
            &self.provider,
        )?;
        *self.current.write() = Loaded {
            cert_pem,
            key_pem,
            key,
        };
        Ok(true)
    }

    /// Calls [`ReloadingServingCert::reload`] every `interval` until `stop` is cancelled,
    /// logging changes and failures.
    pub async fn reload_every(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            match self.reload() {
                Ok(true) => tracing::info!(
                    cert = %self.cert_path.display(),
                    "serving certificate changed; new connections use it"
                ),
                Ok(false) => {}
                Err(err) => tracing::warn!(%err, "keeping the previous serving certificate"),
            }
        }
    }
}

impl ResolvesServerCert for ReloadingServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().key.clone())
    }
}

impl fmt::Debug for ReloadingServingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingServingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<(Vec<u8>, Vec<u8>), ServingCertError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ServingCertError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    Ok((read(cert_path)?, read(key_path)?))
}

fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, ServingCertError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| ServingCertError::Parse {
            path: cert_path.to_path_buf(),
            message: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ServingCertError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| ServingCertError::Parse {
        path: key_path.to_path_buf(),
        message: err.to_string(),
    })?;
    let mismatch = |message: String| ServingCertError::Mismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        message,
    };
    let key = CertifiedKey::from_der(certs, key, provider).map_err(|e| mismatch(e.to_string()))?;
    Ok(Arc::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standalone::pki;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn write(dir: &Path, pair: &pki::CertifiedKey) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &pair.cert_pem).unwrap();
        std::fs::write(&key, &pair.key_pem).unwrap();
        (cert, key)
    }

    fn serving(sans: &[&str]) -> pki::CertifiedKey {
        let ca = pki::new_ca("test-ca").unwrap();
        let issuer = pki::issuer(&ca).unwrap();
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        pki::issue_serving(&issuer, &sans).unwrap()
    }

    fn served_leaf(cert: &ReloadingServingCert) -> Vec<u8> {
        let current = cert.current.read();
        current.key.cert[0].as_ref().to_vec()
    }

    #[test]
    fn a_changed_pair_is_picked_up_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write(dir.path(), &serving(&["a.example"]));
        let loaded = ReloadingServingCert::load(&cert, &key, provider()).unwrap();
        let before = served_leaf(&loaded);
        assert!(!loaded.reload().unwrap());
        write(dir.path(), &serving(&["b.example"]));
        assert!(loaded.reload().unwrap());
        assert_ne!(served_leaf(&loaded), before);
    }

    #[test]
    fn a_half_replaced_pair_keeps_the_previous_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write(dir.path(), &serving(&["a.example"]));
        let loaded = ReloadingServingCert::load(&cert, &key, provider()).unwrap();
        let before = served_leaf(&loaded);
        std::fs::write(&cert, serving(&["b.example"]).cert_pem).unwrap();
        assert!(matches!(
            loaded.reload(),
            Err(ServingCertError::Mismatch { .. })
        ));
        assert_eq!(served_leaf(&loaded), before);
    }

    #[test]
    fn a_missing_file_fails_the_first_load_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = ReloadingServingCert::load(
            &dir.path().join("nope.crt"),
            &dir.path().join("nope.key"),
            provider(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope.crt"), "{err}");
    }
}
