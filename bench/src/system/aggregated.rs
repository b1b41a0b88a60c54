//! Prepull in cluster mode behind a real kube-apiserver's aggregation layer (S5): one
//! kube-apiserver on its own etcd, Prepull on another, registered through an `ExternalName`
//! Service pointing at `localhost` and one APIService per version. The same admin reaches
//! Prepull two ways: directly (its client certificate, checked against the cluster's client
//! CA, which delegated authentication reads from kube-apiserver) and through kube-apiserver.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use prepull_testbed::{AggregatedApi, Etcd, KubeApiserver, free_loopback_port, tls_client_config};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use super::{Endpoint, start_etcd, wait_until_serving};

const SERVICE: &str = "prepull-apiserver";
const NAMESPACE: &str = "prepull-system";
/// How long kube-apiserver may take to report the APIServices Available.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Prepull registered with kube-apiserver, and the two ways to reach it.
#[derive(Debug)]
pub struct Aggregated {
    /// Prepull's own port.
    pub direct: Endpoint,
    /// kube-apiserver's port (requests for apps.kruise.io are proxied to Prepull).
    pub through_kube: Endpoint,
    // Dropped in this order: our server, kube-apiserver, the etcds, the temp dir.
    _child: Child,
    _apiserver: KubeApiserver,
    _etcd: Etcd,
    _kube_etcd: Etcd,
    _dir: TempDir,
}

impl Aggregated {
    /// Starts everything and waits until the APIServices are Available.
    pub async fn start(binary: &Path) -> Result<Aggregated> {
        let (kube_etcd, _) = start_etcd().await?;
        let apiserver = KubeApiserver::start(&kube_etcd).await?;
        let kube_pid = apiserver.pid().context("kube-apiserver exited")?;
        let (etcd, etcd_pid) = start_etcd().await?;
        let dir = tempfile::Builder::new()
            .prefix("prepull-bench-hop-")
            .tempdir()?;
        let certs = dir.path().join("certs");
        let status = Command::new(binary)
            .args(["certs", "--service", SERVICE, "--namespace", NAMESPACE])
            .args(["--san", "localhost", "--out"])
            .arg(&certs)
            .stdout(Stdio::null())
            .status()
            .await
            .context("running prepull-apiserver certs")?;
        if !status.success() {
            bail!("prepull-apiserver certs failed: {status}");
        }
        let port = free_loopback_port()?;
        let path = |p: &Path| p.display().to_string();
        let child = Command::new(binary)
            .args([
                "--secure-port",
                &port.to_string(),
                "--bind-address",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", &path(&certs.join("tls.crt"))])
            .args(["--tls-private-key-file", &path(&certs.join("tls.key"))])
            .args(["--kubeconfig", &path(apiserver.kubeconfig())])
            .args(["--etcd-servers", &etcd.endpoint()])
            .args(["--data-dir", &path(&dir.path().join("data"))])
            .args(["--disable-scheduler", "--http2-max-streams", "4096"])
            .env("PREPULL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let pid = child.id().context("prepull-apiserver exited")?;

        let ca_pem = std::fs::read_to_string(certs.join("ca.crt"))?;
        let roots: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(ca_pem.as_bytes()).collect::<Result<_, _>>()?;
        let direct_tls = (*tls_client_config(&roots, Some(&apiserver.pki().admin))?).clone();
        wait_until_serving(port, &direct_tls, "/readyz").await?;
        let api = AggregatedApi {
            service: SERVICE.into(),
            namespace: NAMESPACE.into(),
            group: prepull_api::GROUP.into(),
            versions: prepull_api::VERSIONS
                .iter()
                .map(|v| v.to_string())
                .collect(),
            port,
            ca_pem,
        };
        let kubectl = apiserver.kubectl();
        api.register(&kubectl).await?;
        api.wait_available(&kubectl, AVAILABLE_TIMEOUT).await?;
        let kube_tls = (*apiserver.admin_tls_config()).clone();
        Ok(Aggregated {
            direct: Endpoint {
                name: "prepull directly",
                port,
                tls: direct_tls,
                pid,
                etcd_pid,
            },
            through_kube: Endpoint {
                name: "prepull through kube-apiserver",
                port: apiserver.port(),
                tls: kube_tls,
                pid,
                etcd_pid: kube_pid,
            },
            _child: child,
            _apiserver: apiserver,
            _etcd: etcd,
            _kube_etcd: kube_etcd,
            _dir: dir,
        })
    }
}
