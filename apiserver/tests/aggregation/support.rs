//! One real cluster shared by every case: etcd, kube-apiserver (built from k8s.io/kubernetes)
//! and our server in cluster mode, registered through APIServices whose Service is
//! `ExternalName: localhost`. kubectl talks through kube-apiserver ([`Env::admin`]) or straight
//! to our server ([`Env::direct_as_user`], [`Env::direct_with_token`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use prepull_apiserver::certs;
use prepull_apiserver::config::Config;
use prepull_apiserver::options::{CertsOptions, Options};
use prepull_testbed::{
    AggregatedApi, Etcd, KubeApiserver, Kubectl, eventually, free_loopback_port, https_get,
    tls_client_config, write_kubeconfig,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The Service and namespace the serving certificate is made for.
pub const SERVICE: &str = "prepull-apiserver";
pub const NAMESPACE: &str = "prepull-system";
/// How long our server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long kube-apiserver may take to find the APIServices available.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long our server may take to shut down.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The shared cluster.
pub struct Env {
    pub kube: KubeApiserver,
    /// kubectl as `system:masters` through kube-apiserver.
    pub admin: Kubectl,
    /// Where `prepull-apiserver certs` wrote the TLS material.
    pub certs_dir: PathBuf,
    /// Our server's port.
    pub port: u16,
    pub dir: TempDir,
    etcd: Etcd,
    server: Option<RunningServer>,
}

/// One of our servers, running in this process.
pub struct RunningServer {
    pub port: u16,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Stops the server gracefully and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
            .expect("the server ran without error");
    }
}

impl Env {
    /// Starts everything and waits until kube-apiserver reports the APIServices Available.
    pub async fn start() -> Env {
        let etcd = Etcd::start().await.expect("etcd starts");
        let kube = KubeApiserver::start(&etcd)
            .await
            .expect("kube-apiserver starts");
        let dir = tempfile::Builder::new()
            .prefix("prepull-aggregation-")
            .tempdir()
            .expect("temp dir");
        let certs_dir = dir.path().join("certs");
        certs::write(&certs_options(&certs_dir)).expect("certs are made");
        let admin = kube.kubectl();
        let mut env = Env {
            kube,
            admin,
            certs_dir,
            port: 0,
            dir,
            etcd,
            server: None,
        };
        env.start_server().await;
        let api = AggregatedApi {
            service: SERVICE.into(),
            namespace: NAMESPACE.into(),
            group: "apps.kruise.io".into(),
            versions: vec!["v1alpha1".into(), "v1beta1".into()],
            port: env.port,
            ca_pem: std::fs::read_to_string(env.certs_dir.join(certs::CA_CERT)).unwrap(),
        };
        api.register(&env.admin)
            .await
            .expect("APIServices registered");
        api.wait_available(&env.admin, AVAILABLE_TIMEOUT)
            .await
            .expect("the APIServices become Available");
        env
    }

    /// Our server's command line on `port` (cluster mode, the shared etcd under `/prepull`,
    /// kube-apiserver through the admin kubeconfig, the certificate checked every second).
    pub fn server_args(&self, port: u16) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        [
            "prepull-apiserver",
            "--secure-port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
            "--tls-cert-file",
            &path(&self.certs_dir.join(certs::SERVING_CERT)),
            "--tls-private-key-file",
            &path(&self.certs_dir.join(certs::SERVING_KEY)),
            "--tls-cert-reload-interval-seconds",
            "1",
            "--kubeconfig",
            &path(self.kube.kubeconfig()),
            "--etcd-servers",
            &self.etcd.endpoint(),
            "--etcd-prefix",
            "/prepull",
            "--data-dir",
            &path(&self.dir.path().join("data")),
            "--shutdown-timeout-seconds",
            "5",
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }

    async fn start_server(&mut self) {
        let port = free_loopback_port().expect("a free port");
        let server = self.start_instance(self.server_args(port)).await;
        self.port = server.port;
        self.server = Some(server);
    }

    /// Starts a server with `args` (from [`Env::server_args`], possibly changed) and waits
    /// until it answers `/readyz`.
    pub async fn start_instance(&self, args: Vec<String>) -> RunningServer {
        let config =
            Config::from_options(Options::parse_from(args)).expect("valid cluster-mode config");
        let port = config.serving.addr.port();
        let (stop, stopped) = oneshot::channel();
        let mut task = tokio::spawn(prepull_apiserver::run_until(config, async move {
            let _ = stopped.await;
        }));
        let tls = self.server_tls(None);
        let ready = eventually("our server answers /readyz", READY_TIMEOUT, || {
            let tls = tls.clone();
            async move {
                let answer =
                    https_get(port, "localhost", "/readyz", tls, Duration::from_secs(5)).await?;
                if answer.status == 200 {
                    Ok(())
                } else {
                    bail!("/readyz answered {}: {}", answer.status, answer.body)
                }
            }
        });
        tokio::select! {
            ready = ready => ready.expect("our server becomes ready"),
            ended = &mut task => match ended {
                Ok(Err(err)) => panic!("our server stopped before it was ready: {err:#}"),
                other => panic!("our server stopped before it was ready: {other:?}"),
            },
        }
        RunningServer { port, stop, task }
    }

    /// A TLS client trusting our CA, optionally with a client certificate.
    pub fn server_tls(
        &self,
        client: Option<&prepull_testbed::IssuedCert>,
    ) -> Arc<rustls::ClientConfig> {
        let ca = std::fs::read(self.certs_dir.join(certs::CA_CERT)).unwrap();
        let ca = CertificateDer::from_pem_slice(&ca).unwrap();
        tls_client_config(&[ca], client).expect("TLS client config")
    }

    /// Stops our server gracefully.
    pub async fn stop(mut self) {
        self.server.take().expect("the server runs").stop().await;
    }

    /// `https://127.0.0.1:<our port>`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// kubectl straight to our server as `user` in `groups` (a client certificate signed by
    /// the cluster's client CA, which our server learns from the ConfigMap).
    pub fn direct_as_user(&self, user: &str, groups: &[&str]) -> Kubectl {
        let cert = self
            .kube
            .pki()
            .cluster_ca
            .issue_client(user, groups)
            .expect("client certificate");
        self.direct_with_cert(user, &cert)
    }

    /// kubectl straight to our server with `cert`.
    pub fn direct_with_cert(&self, stem: &str, cert: &prepull_testbed::IssuedCert) -> Kubectl {
        let stem = format!(
            "direct-{}",
            stem.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let files = cert.write(self.dir.path(), &stem).expect("cert files");
        let path = self.dir.path().join(format!("{stem}.kubeconfig"));
        write_kubeconfig(
            &path,
            &self.url(),
            &self.certs_dir.join(certs::CA_CERT),
            &files,
        )
        .expect("kubeconfig");
        Kubectl::new(path)
    }

    /// kubectl through kube-apiserver as `user` in `groups`.
    pub fn through_kube_as_user(&self, user: &str, groups: &[&str]) -> Kubectl {
        Kubectl::new(
            self.kube
                .write_user_kubeconfig(user, groups)
                .expect("user kubeconfig"),
        )
    }

    /// kubectl straight to our server with a bearer token (our server asks TokenReview).
    pub fn direct_with_token(&self, name: &str, token: &str) -> Kubectl {
        let ca = self.certs_dir.join(certs::CA_CERT);
        Kubectl::new(self.token_kubeconfig(&format!("direct-{name}"), &self.url(), &ca, token))
    }

    /// A kubeconfig for `server` (trusting `ca_file`) with a bearer token, in the temp dir.
    pub fn token_kubeconfig(
        &self,
        name: &str,
        server: &str,
        ca_file: &Path,
        token: &str,
    ) -> PathBuf {
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "cluster", "cluster": {
                "server": server,
                "certificate-authority": ca_file,
            }}],
            "users": [{"name": "token", "user": {"token": token}}],
            "contexts": [{"name": "default", "context": {"cluster": "cluster", "user": "token"}}],
            "current-context": "default",
        });
        let path = self.dir.path().join(format!("token-{name}.kubeconfig"));
        std::fs::write(&path, config.to_string()).expect("token kubeconfig");
        path
    }
}

/// `certs` options for our Service, valid for localhost too (direct access).
pub fn certs_options(out: &Path) -> CertsOptions {
    CertsOptions {
        service: SERVICE.into(),
        namespace: NAMESPACE.into(),
        out: out.to_path_buf(),
        sans: vec!["localhost".into(), "127.0.0.1".into()],
        etcd_service: "prepull-etcd".into(),
    }
}

/// Runs kubectl; panics with its stderr when it fails.
pub async fn ok(kubectl: &Kubectl, args: &[&str]) -> String {
    kubectl
        .run(args)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

/// Runs kubectl expecting failure; returns the error text.
pub async fn fails(kubectl: &Kubectl, args: &[&str]) -> String {
    match kubectl.run(args).await {
        Ok(out) => panic!("kubectl {} succeeded: {out}", args.join(" ")),
        Err(err) => format!("{err:#}"),
    }
}

/// Applies a JSON/YAML manifest as the admin.
pub async fn apply(env: &Env, manifest: &str) {
    env.admin
        .run_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .await
        .with_context(|| format!("applying {manifest}"))
        .unwrap_or_else(|err| panic!("{err:#}"));
}
