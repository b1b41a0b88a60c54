//! TLS to etcd: which CA verifies etcd's serving certificate and which client certificate this
//! process presents (etcd's `--client-cert-auth`). Loaded and checked from PEM files once,
//! before anything connects; every etcd client of the process then applies the same settings.
//!
//! The rule of [`EtcdTls::for_endpoints`]: `https://` endpoints use TLS, plain ones do not, a
//! mix of both or TLS files with plain endpoints is a configuration error (a user who gave a
//! CA expects it to be used, not ignored).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The three files naming etcd's TLS material, as given on the command line (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdTlsFiles {
    /// CA bundle that verifies etcd's serving certificate (PEM). Without it: the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM chain, leaf first) presented to etcd.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl EtcdTlsFiles {
    /// Whether no file was named.
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }
}

/// Why TLS settings for etcd are unusable. Each is a configuration mistake to fix before start.
#[derive(Debug, thiserror::Error)]
pub enum EtcdTlsError {
    /// A named file cannot be read: check the path and that this process may read it.
    #[error("reading the etcd {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM block of the kind it should: pass the right file.
    #[error("the etcd {what} {} holds no {expected}", path.display())]
    NotPem {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    /// A client certificate without its key, or a key without its certificate: give both.
    #[error(
        "an etcd client certificate needs its private key and a key its certificate: only the {given} was given"
    )]
    HalfPair { given: &'static str },
    /// The client key is not the certificate's key (or of a kind the TLS library cannot use).
    #[error("the etcd client certificate {} and key {} do not fit together: {reason}", cert.display(), key.display())]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    /// TLS files were given while every endpoint is plain `http://`: use `https://` endpoints.
    #[error("etcd TLS files were given but the endpoints ({endpoints}) are not https:// URLs")]
    TlsWithoutHttps { endpoints: String },
    /// Some endpoints are `https://`, others not: use one scheme for all.
    #[error("the etcd endpoints ({endpoints}) mix https:// and plain URLs; use https:// for all")]
    MixedSchemes { endpoints: String },
}

/// Checked TLS material for etcd clients. Cheap to clone; its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdTls {
    /// PEM of the CA bundle; `None`: the system's roots.
    ca_pem: Option<String>,
    client: Option<ClientPem>,
}

#[derive(Clone, PartialEq, Eq)]
struct ClientPem {
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for EtcdTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdTls")
            .field(
                "ca",
                &self.ca_pem.as_ref().map_or("system roots", |_| "file"),
            )
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl EtcdTls {
    /// The TLS settings for `endpoints`: `None` for plain `http://` (or scheme-less) endpoints
    /// and no files, TLS from `files` for `https://` endpoints (the system roots verify etcd
    /// when no CA file is named). Errors: see [`EtcdTlsError`].
    pub fn for_endpoints(
        endpoints: &[String],
        files: &EtcdTlsFiles,
    ) -> Result<Option<EtcdTls>, EtcdTlsError> {
        let https = endpoints
            .iter()
            .filter(|e| e.starts_with("https://"))
            .count();
        let list = || endpoints.join(",");
        if https == 0 {
            if files.is_empty() {
                return Ok(None);
            }
            return Err(EtcdTlsError::TlsWithoutHttps { endpoints: list() });
        }
        if https < endpoints.len() {
            return Err(EtcdTlsError::MixedSchemes { endpoints: list() });
        }
        EtcdTls::load(files).map(Some)
    }

    /// Reads and checks `files`: the CA file holds certificates, the client certificate and
    /// key come together, parse, and belong to each other.
    pub fn load(files: &EtcdTlsFiles) -> Result<EtcdTls, EtcdTlsError> {
        let ca_pem = match &files.ca_file {
            Some(path) => {
                let pem = read("CA file", path)?;
                certificates("CA file", path, &pem)?;
                Some(pem)
            }
            None => None,
        };
        let client = match (&files.cert_file, &files.key_file) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(EtcdTlsError::HalfPair {
                    given: "client certificate file",
                });
            }
            (None, Some(_)) => {
                return Err(EtcdTlsError::HalfPair {
                    given: "client key file",
                });
            }
            (Some(cert_path), Some(key_path)) => {
                let cert_pem = read("client certificate file", cert_path)?;
                let key_pem = read("client key file", key_path)?;
                check_pair(cert_path, &cert_pem, key_path, &key_pem)?;
                Some(ClientPem { cert_pem, key_pem })
            }
        };
        Ok(EtcdTls { ca_pem, client })
    }

    /// Whether a client certificate is presented.
    pub fn has_client_certificate(&self) -> bool {
        self.client.is_some()
    }

    /// The CA bundle's PEM; `None`: the system roots.
    pub(crate) fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The client certificate's and key's PEM.
    pub(crate) fn client_pem(&self) -> Option<(&str, &str)> {
        self.client
            .as_ref()
            .map(|c| (c.cert_pem.as_str(), c.key_pem.as_str()))
    }

    /// `options` with these TLS settings; a handshake that has not finished within
    /// `handshake_timeout` fails the connection attempt.
    pub fn apply(&self, options: ConnectOptions, handshake_timeout: Duration) -> ConnectOptions {
        let mut tls = TlsOptions::new().timeout(handshake_timeout);
        tls = match &self.ca_pem {
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_native_roots(),
        };
        if let Some(client) = &self.client {
            tls = tls.identity(Identity::from_pem(&client.cert_pem, &client.key_pem));
        }
        options.with_tls(tls)
    }
}

fn read(what: &'static str, path: &Path) -> Result<String, EtcdTlsError> {
    std::fs::read_to_string(path).map_err(|source| EtcdTlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The certificates in `pem`; at least one, or [`EtcdTlsError::NotPem`].
fn certificates(
    what: &'static str,
    path: &Path,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, EtcdTlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(EtcdTlsError::NotPem {
            what,
            path: path.to_path_buf(),
            expected: "PEM certificate",
        });
    }
    Ok(certs)
}

fn check_pair(
    cert_path: &Path,
    cert_pem: &str,
    key_path: &Path,
    key_pem: &str,
) -> Result<(), EtcdTlsError> {
    let chain = certificates("client certificate file", cert_path, cert_pem)?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| EtcdTlsError::NotPem {
            what: "client key file",
            path: key_path.to_path_buf(),
            expected: "PEM private key",
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::sign::CertifiedKey::from_der(chain, key, &provider)
        .map(|_| ())
        .map_err(|err| EtcdTlsError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            reason: err.to_string(),
        })
}
