//! The certificates and keys of one test cluster, written as PEM files into a directory.

use std::path::{Path, PathBuf};

use crate::certs::{
    CertificateAuthority, IssuedCert, PemFiles, ServiceAccountKeyFiles, ServiceAccountKeys,
};

/// The CN kube-apiserver's proxy client certificate carries, and the one name
/// `--requestheader-allowed-names` admits.
pub const FRONT_PROXY_CLIENT_NAME: &str = "front-proxy-client";

/// The user of the admin kubeconfig; its group `system:masters` bypasses RBAC.
pub const ADMIN_USER: &str = "prepull-admin";

/// The group that RBAC lets do everything.
pub const ADMIN_GROUP: &str = "system:masters";

/// Names kube-apiserver's serving certificate is valid for.
const APISERVER_SANS: &[&str] = &[
    "127.0.0.1",
    "localhost",
    "10.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// Everything a test cluster's components need for TLS and service-account tokens.
///
/// Two CAs, as in kubeadm clusters: the cluster CA (serving certs, client certs) and the
/// front-proxy CA, which signs only the certificate kube-apiserver presents when it proxies to
/// an aggregated API server (that server then trusts the `X-Remote-*` headers it sends).
#[derive(Debug)]
pub struct KubePki {
    /// The directory holding every file below.
    pub dir: PathBuf,
    /// Signs the serving and client certificates (`--client-ca-file`).
    pub cluster_ca: CertificateAuthority,
    /// `<dir>/ca.crt`.
    pub cluster_ca_file: PathBuf,
    /// kube-apiserver's serving certificate, valid for 127.0.0.1 and localhost.
    pub apiserver_serving: IssuedCert,
    /// `<dir>/apiserver.{crt,key}`.
    pub apiserver_serving_files: PemFiles,
    /// Client certificate of [`ADMIN_USER`] in [`ADMIN_GROUP`].
    pub admin: IssuedCert,
    /// `<dir>/admin.{crt,key}`.
    pub admin_files: PemFiles,
    /// Signs only the proxy client certificate (`--requestheader-client-ca-file`).
    pub front_proxy_ca: CertificateAuthority,
    /// `<dir>/front-proxy-ca.crt`.
    pub front_proxy_ca_file: PathBuf,
    /// The certificate kube-apiserver presents to aggregated servers, CN [`FRONT_PROXY_CLIENT_NAME`].
    pub front_proxy_client: IssuedCert,
    /// `<dir>/front-proxy-client.{crt,key}`.
    pub front_proxy_client_files: PemFiles,
    /// Signs and verifies service-account tokens.
    pub service_account: ServiceAccountKeys,
    /// `<dir>/sa.{key,pub}`.
    pub service_account_files: ServiceAccountKeyFiles,
}

impl KubePki {
    /// Generates fresh keys and certificates and writes them into `dir` (which must exist).
    pub fn generate(dir: &Path) -> anyhow::Result<KubePki> {
        let cluster_ca = CertificateAuthority::new("prepull-test-cluster-ca")?;
        let cluster_ca_file = dir.join("ca.crt");
        cluster_ca.write_cert(&cluster_ca_file)?;

        let apiserver_serving = cluster_ca.issue_serving("kube-apiserver", APISERVER_SANS)?;
        let apiserver_serving_files = apiserver_serving.write(dir, "apiserver")?;

        let admin = cluster_ca.issue_client(ADMIN_USER, &[ADMIN_GROUP])?;
        let admin_files = admin.write(dir, "admin")?;

        let front_proxy_ca = CertificateAuthority::new("prepull-test-front-proxy-ca")?;
        let front_proxy_ca_file = dir.join("front-proxy-ca.crt");
        front_proxy_ca.write_cert(&front_proxy_ca_file)?;

        let front_proxy_client = front_proxy_ca.issue_client(FRONT_PROXY_CLIENT_NAME, &[])?;
        let front_proxy_client_files = front_proxy_client.write(dir, "front-proxy-client")?;

        let service_account = ServiceAccountKeys::generate()?;
        let service_account_files = service_account.write(dir, "sa")?;

        Ok(KubePki {
            dir: dir.to_path_buf(),
            cluster_ca,
            cluster_ca_file,
            apiserver_serving,
            apiserver_serving_files,
            admin,
            admin_files,
            front_proxy_ca,
            front_proxy_ca_file,
            front_proxy_client,
            front_proxy_client_files,
            service_account,
            service_account_files,
        })
    }
}
