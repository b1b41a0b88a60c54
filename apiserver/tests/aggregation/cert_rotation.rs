//! Serving-certificate rotation: `prepull-apiserver certs` run again renews the certificate in
//! place (same CA), and the running server serves it to new connections, no restart.

use std::time::Duration;

use prepull_apiserver::certs;
use prepull_testbed::eventually;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::{Env, certs_options, ok};

/// How long the server may take to notice (it checks every second in this test).
const RELOAD_TIMEOUT: Duration = Duration::from_secs(20);

async fn served_leaf(env: &Env) -> anyhow::Result<Vec<u8>> {
    let connector = TlsConnector::from(env.server_tls(None));
    let tcp = TcpStream::connect(("127.0.0.1", env.port)).await?;
    let tls = tokio::time::timeout(
        Duration::from_secs(5),
        connector.connect(ServerName::try_from("localhost")?, tcp),
    )
    .await??;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| anyhow::anyhow!("no server certificate"))?;
    Ok(leaf.as_ref().to_vec())
}

fn file_leaf(env: &Env) -> Vec<u8> {
    let pem = std::fs::read(env.certs_dir.join(certs::SERVING_CERT)).unwrap();
    CertificateDer::from_pem_slice(&pem)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The renewed certificate is served within seconds and kube-apiserver still reaches us.
pub async fn a_renewed_serving_certificate_is_served_without_a_restart(env: &Env) {
    let before = served_leaf(env).await.expect("a handshake");
    assert_eq!(before, file_leaf(env));
    let written = certs::write(&certs_options(&env.certs_dir)).expect("certs renewed");
    assert!(
        !written.new_ca,
        "the CA (the APIServices' caBundle) is kept"
    );
    let renewed = file_leaf(env);
    assert_ne!(renewed, before);
    eventually(
        "the renewed certificate is served",
        RELOAD_TIMEOUT,
        || async {
            let served = served_leaf(env).await?;
            if served == renewed {
                Ok(())
            } else {
                anyhow::bail!("still the old certificate")
            }
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err:#}"));
    ok(
        &env.admin,
        &["get", "--raw", "/apis/apps.kruise.io/v1alpha1"],
    )
    .await;
}
