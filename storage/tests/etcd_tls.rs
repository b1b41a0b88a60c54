//! TLS to etcd: the checks on the TLS files before anything connects, and a real TLS-only etcd
//! (`--client-cert-auth`) refusing, quickly and with a clear error, a store that lacks the
//! client certificate or does not trust etcd's CA. (The storage contract over TLS is the
//! conformance suite in `conformance_etcd_tls.rs`.)

mod conformance;
mod etcd_fixture;

use std::path::PathBuf;
use std::time::Duration;

use etcd_fixture::{EtcdFixture, ROOT, tls_files};
use prepull_storage::etcd::{EtcdConfig, EtcdStore, EtcdTls, EtcdTlsError, EtcdTlsFiles};
use prepull_storage::{Storage, StorageError};
use prepull_testbed::{CertificateAuthority, Etcd, PemFiles};
use tempfile::TempDir;
use tokio::time::Instant;

/// A refused handshake must fail the connect well within the request deadline (5 s): the dial
/// timeout (1 s) plus a little.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(3);

/// A client certificate and the CA file that signed it, in a temp dir.
struct Material {
    ca_file: PathBuf,
    client: PemFiles,
    _dir: TempDir,
}

fn material() -> Material {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::new("test-ca").unwrap();
    let ca_file = dir.path().join("ca.crt");
    ca.write_cert(&ca_file).unwrap();
    let client = ca
        .issue_client("client", &[])
        .unwrap()
        .write(dir.path(), "client")
        .unwrap();
    Material {
        ca_file,
        client,
        _dir: dir,
    }
}

fn https() -> Vec<String> {
    vec!["https://127.0.0.1:2379".to_string()]
}

fn all_files(m: &Material) -> EtcdTlsFiles {
    EtcdTlsFiles {
        ca_file: Some(m.ca_file.clone()),
        cert_file: Some(m.client.cert.clone()),
        key_file: Some(m.client.key.clone()),
    }
}

#[test]
fn plain_endpoints_without_files_use_no_tls_and_https_ones_always_do() {
    let plain = vec!["http://127.0.0.1:2379".to_string()];
    assert_eq!(
        EtcdTls::for_endpoints(&plain, &EtcdTlsFiles::default()).unwrap(),
        None
    );
    let system_roots = EtcdTls::for_endpoints(&https(), &EtcdTlsFiles::default()).unwrap();
    assert!(system_roots.is_some(), "https:// endpoints use TLS");
    let m = material();
    let tls = EtcdTls::for_endpoints(&https(), &all_files(&m))
        .unwrap()
        .unwrap();
    assert!(tls.has_client_certificate());
}

#[test]
fn tls_files_with_plain_endpoints_are_refused_rather_than_ignored() {
    let m = material();
    let plain = vec!["http://etcd:2379".to_string()];
    let error = EtcdTls::for_endpoints(&plain, &all_files(&m)).unwrap_err();
    assert!(
        matches!(error, EtcdTlsError::TlsWithoutHttps { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("http://etcd:2379"), "{error}");
}

#[test]
fn mixed_schemes_are_refused() {
    let mixed = vec![
        "https://etcd-0:2379".to_string(),
        "http://etcd-1:2379".to_string(),
    ];
    let error = EtcdTls::for_endpoints(&mixed, &EtcdTlsFiles::default()).unwrap_err();
    assert!(
        matches!(error, EtcdTlsError::MixedSchemes { .. }),
        "{error}"
    );
}

#[test]
fn a_certificate_without_its_key_and_a_key_without_its_certificate_are_refused() {
    let m = material();
    let cert_only = EtcdTlsFiles {
        key_file: None,
        ..all_files(&m)
    };
    let error = EtcdTls::load(&cert_only).unwrap_err();
    assert!(
        matches!(
            error,
            EtcdTlsError::HalfPair {
                given: "client certificate file"
            }
        ),
        "{error}"
    );
    let key_only = EtcdTlsFiles {
        cert_file: None,
        ..all_files(&m)
    };
    let error = EtcdTls::load(&key_only).unwrap_err();
    assert!(
        matches!(
            error,
            EtcdTlsError::HalfPair {
                given: "client key file"
            }
        ),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let m = material();
    let missing = m.ca_file.with_file_name("nope.crt");
    let files = EtcdTlsFiles {
        ca_file: Some(missing.clone()),
        ..all_files(&m)
    };
    let error = EtcdTls::load(&files).unwrap_err();
    assert!(matches!(error, EtcdTlsError::Read { .. }), "{error}");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
}

#[test]
fn files_of_the_wrong_kind_are_refused() {
    let m = material();
    // A key where the CA belongs, a certificate where the key belongs.
    let swapped_ca = EtcdTlsFiles {
        ca_file: Some(m.client.key.clone()),
        ..all_files(&m)
    };
    let error = EtcdTls::load(&swapped_ca).unwrap_err();
    assert!(
        matches!(
            error,
            EtcdTlsError::NotPem {
                what: "CA file",
                ..
            }
        ),
        "{error}"
    );
    let swapped_key = EtcdTlsFiles {
        key_file: Some(m.client.cert.clone()),
        ..all_files(&m)
    };
    let error = EtcdTls::load(&swapped_key).unwrap_err();
    assert!(
        matches!(
            error,
            EtcdTlsError::NotPem {
                what: "client key file",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let (one, other) = (material(), material());
    let files = EtcdTlsFiles {
        key_file: Some(other.client.key.clone()),
        ..all_files(&one)
    };
    let error = EtcdTls::load(&files).unwrap_err();
    assert!(matches!(error, EtcdTlsError::KeyMismatch { .. }), "{error}");
}

#[test]
fn debug_output_never_shows_the_private_key() {
    let m = material();
    let tls = EtcdTls::load(&all_files(&m)).unwrap();
    let shown = format!("{tls:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(shown.contains("client_certificate: true"), "{shown}");
}

/// Connects a store to `etcd` with `files`, expecting a refusal within [`REFUSAL_DEADLINE`].
async fn refused(etcd: &Etcd, files: &EtcdTlsFiles) -> String {
    let tls = EtcdTls::for_endpoints(&[etcd.endpoint()], files).unwrap();
    let config = EtcdConfig::new([etcd.endpoint()])
        .with_prefix(ROOT)
        .with_tls(tls);
    let started = Instant::now();
    let error = EtcdStore::connect(config)
        .await
        .expect_err("etcd refuses the connection");
    let took = started.elapsed();
    assert!(
        took < REFUSAL_DEADLINE,
        "refused only after {took:?}: {error}"
    );
    let StorageError::Unavailable { reason } = error else {
        panic!("a refused connection is Unavailable, not {error:?}");
    };
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_client_certificate_etcd_refuses_the_store_quickly_and_says_why() {
    let fixture = EtcdFixture::start_tls().await;
    let ca_only = EtcdTlsFiles {
        cert_file: None,
        key_file: None,
        ..tls_files(&fixture.etcd)
    };
    let reason = refused(&fixture.etcd, &ca_only).await;
    assert!(
        reason.contains("refused this client's TLS certificate"),
        "{reason}"
    );
    // The store with the certificate works meanwhile.
    let written = fixture
        .store
        .create("/g/p/n", bytes::Bytes::from_static(b"v"))
        .await
        .unwrap();
    assert_eq!(fixture.store.get("/g/p/n").await.unwrap(), written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_does_not_trust_etcds_ca_refuses_etcd_quickly_and_says_why() {
    let fixture = EtcdFixture::start_tls().await;
    let stranger = material();
    let wrong_ca = EtcdTlsFiles {
        ca_file: Some(stranger.ca_file.clone()),
        ..tls_files(&fixture.etcd)
    };
    let reason = refused(&fixture.etcd, &wrong_ca).await;
    assert!(reason.contains("TLS handshake"), "{reason}");
    assert!(reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused_quickly() {
    let fixture = EtcdFixture::start_tls().await;
    let stranger = material();
    let foreign_client = EtcdTlsFiles {
        cert_file: Some(stranger.client.cert.clone()),
        key_file: Some(stranger.client.key.clone()),
        ..tls_files(&fixture.etcd)
    };
    let reason = refused(&fixture.etcd, &foreign_client).await;
    assert!(
        reason.contains("refused this client's TLS certificate"),
        "{reason}"
    );
}
