//! The validated configuration: everything [`crate::run`] needs, checked before anything binds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use prepull_storage::etcd::{EtcdTls, EtcdTlsFiles};
use rustls::crypto::CryptoProvider;

use crate::cluster::ClusterConfig;
use crate::feature_gates::FeatureGates;
use crate::options::Options;
use crate::scheduler::SchedulerOptions;
use crate::serve::{
    ReloadingServingCert, ServingConfig, cluster_tls_config, server_tls_config_resolving,
};
use crate::standalone::{kubeconfig, pki};

/// The server's configuration, built from [`Options`].
#[derive(Debug)]
pub struct Config {
    pub serving: ServingConfig,
    /// What standalone mode prepared; `None` in cluster mode.
    pub standalone: Option<StandaloneConfig>,
    /// How to reach and trust the main cluster; `None` in standalone mode.
    pub cluster: Option<ClusterConfig>,
    pub storage: StorageConfig,
    pub requests: RequestConfig,
    /// How the job scheduler runs in this process; `None` with `--disable-scheduler`.
    pub scheduler: Option<SchedulerOptions>,
    /// `--feature-gates`, validated.
    pub feature_gates: FeatureGates,
    /// Who runs the scheduler when replicas share a store.
    pub leader_election: LeaderElectionConfig,
}

/// Leader election among replicas (etcd only; the embedded store has a single owner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// This replica's name.
    pub identity: String,
    /// The lease's time to live.
    pub lease: Duration,
}

/// Where objects are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    /// The embedded store in this directory (`<data-dir>/store`).
    Embedded { dir: PathBuf },
    /// etcd at these endpoints, every key under `prefix`; `tls` (checked, loaded) is used by
    /// every etcd client of the process: the storage and the leader election.
    Etcd {
        servers: Vec<String>,
        prefix: String,
        tls: Option<EtcdTls>,
    },
}

/// Time limits of requests, and how many may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestConfig {
    /// Deadline of every request but watches.
    pub request_timeout: Duration,
    /// A watch without `timeoutSeconds` lasts a random time in `[min, 2*min)`.
    pub min_request_timeout: Duration,
    /// Interval of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Non-mutating requests served at once (0: no limit).
    pub max_requests_inflight: usize,
    /// Mutating requests served at once (0: no limit).
    pub max_mutating_requests_inflight: usize,
}

impl Default for RequestConfig {
    fn default() -> RequestConfig {
        RequestConfig {
            request_timeout: Duration::from_secs(60),
            min_request_timeout: Duration::from_secs(1800),
            bookmark_interval: Duration::from_secs(60),
            max_requests_inflight: crate::http::inflight::DEFAULT_MAX_READONLY,
            max_mutating_requests_inflight: crate::http::inflight::DEFAULT_MAX_MUTATING,
        }
    }
}

/// What standalone mode prepared.
#[derive(Debug)]
pub struct StandaloneConfig {
    /// The URL clients use.
    pub url: String,
    /// The admin kubeconfig written for this run.
    pub kubeconfig: PathBuf,
    /// `<data-dir>/pki`: the CA, the certificates, the node certificate records.
    pub pki_dir: PathBuf,
    /// `--tls-san`: extra names of the serving certificate.
    pub tls_sans: Vec<String>,
    /// The serving certificate the listener serves, re-read when it is renewed.
    pub serving_cert: Arc<ReloadingServingCert>,
}

impl Config {
    /// Validates `options` and prepares what they name (standalone: the PKI and kubeconfig;
    /// cluster: the serving certificate files are loaded).
    pub fn from_options(options: Options) -> Result<Config> {
        if options.http2_max_streams < 250 {
            bail!(
                "--http2-max-streams must be at least 250 (kube-apiserver multiplexes every watch over one connection)"
            );
        }
        if options.max_connections == 0 {
            bail!("--max-connections must be positive");
        }
        if options.request_timeout_seconds == 0
            || options.min_request_timeout_seconds == 0
            || options.watch_bookmark_interval_seconds == 0
        {
            bail!(
                "--request-timeout-seconds, --min-request-timeout-seconds and --watch-bookmark-interval-seconds must be positive"
            );
        }
        // Before standalone mode writes its PKI: a wrong etcd flag changes nothing on disk.
        let storage = storage_config(&options)?;
        let addr = SocketAddr::new(options.bind_address, options.secure_port);
        let (tls, standalone, cluster) = if options.standalone {
            let (tls, standalone) = prepare_standalone(&options)?;
            (tls, Some(standalone), None)
        } else {
            let cluster = ClusterConfig::from_options(&options)?;
            let tls = cluster_tls_config(cluster.serving_cert.clone(), crypto_provider())
                .context("building the TLS configuration")?;
            (tls, None, Some(cluster))
        };
        if options.leader_elect_lease_seconds < 2 {
            bail!("--leader-elect-lease-seconds must be at least 2");
        }
        let leader_election = LeaderElectionConfig {
            identity: options
                .leader_elect_identity
                .clone()
                .unwrap_or_else(crate::leader::default_identity),
            lease: Duration::from_secs(options.leader_elect_lease_seconds),
        };
        Ok(Config {
            serving: ServingConfig {
                addr,
                tls,
                http2_max_streams: options.http2_max_streams,
                max_connections: options.max_connections,
                header_read_timeout: crate::serve::HEADER_READ_TIMEOUT,
                shutdown_timeout: Duration::from_secs(options.shutdown_timeout_seconds),
            },
            standalone,
            cluster,
            storage,
            requests: RequestConfig {
                request_timeout: Duration::from_secs(options.request_timeout_seconds),
                min_request_timeout: Duration::from_secs(options.min_request_timeout_seconds),
                bookmark_interval: Duration::from_secs(options.watch_bookmark_interval_seconds),
                max_requests_inflight: options.max_requests_inflight,
                max_mutating_requests_inflight: options.max_mutating_requests_inflight,
            },
            feature_gates: FeatureGates::parse(&options.feature_gates)
                .context("--feature-gates")?,
            leader_election,
            scheduler: (!options.disable_scheduler).then(|| SchedulerOptions {
                repull_period: Duration::from_secs(options.scheduler_repull_period_seconds),
                ack_timeout: Duration::from_secs(options.scheduler_ack_timeout_seconds),
                max_pulls_per_registry: options.max_pulls_per_registry,
                ..SchedulerOptions::default()
            }),
        })
    }
}

/// The embedded store, or etcd with its TLS files read and checked (`https://` servers use
/// TLS; TLS files with plain servers, or without servers, are refused).
fn storage_config(options: &Options) -> Result<StorageConfig> {
    let files = EtcdTlsFiles {
        ca_file: options.etcd_cafile.clone(),
        cert_file: options.etcd_certfile.clone(),
        key_file: options.etcd_keyfile.clone(),
    };
    if options.etcd_servers.is_empty() {
        if !files.is_empty() {
            bail!("--etcd-cafile, --etcd-certfile and --etcd-keyfile need --etcd-servers");
        }
        return Ok(StorageConfig::Embedded {
            dir: options.data_dir.join("store"),
        });
    }
    if !options.etcd_prefix.starts_with('/') {
        bail!("--etcd-prefix must start with '/'");
    }
    match (&files.cert_file, &files.key_file) {
        (Some(_), None) => bail!("--etcd-certfile needs --etcd-keyfile (its private key)"),
        (None, Some(_)) => bail!("--etcd-keyfile needs --etcd-certfile (its certificate)"),
        _ => {}
    }
    let tls = EtcdTls::for_endpoints(&options.etcd_servers, &files)
        .context("etcd TLS (--etcd-servers, --etcd-cafile, --etcd-certfile, --etcd-keyfile)")?;
    Ok(StorageConfig::Etcd {
        servers: options.etcd_servers.clone(),
        prefix: options.etcd_prefix.clone(),
        tls,
    })
}

/// The standalone PKI (made once in `<data-dir>/pki`), its TLS configuration and the admin
/// kubeconfig.
fn prepare_standalone(options: &Options) -> Result<(Arc<rustls::ServerConfig>, StandaloneConfig)> {
    let pki_dir = options.data_dir.join("pki");
    let pki = pki::Pki::ensure(&pki_dir, &options.tls_sans)
        .context("preparing the standalone certificates")?;
    let serving_cert = Arc::new(
        ReloadingServingCert::load(
            &pki_dir.join("serving.crt"),
            &pki_dir.join("serving.key"),
            crypto_provider(),
        )
        .context("loading the serving certificate")?,
    );
    let tls = server_tls_config_resolving(serving_cert.clone(), Some(&pki.ca.cert_pem))?;
    let url = format!(
        "https://{}",
        SocketAddr::new(client_host(options.bind_address), options.secure_port)
    );
    let kubeconfig_path = options.data_dir.join("kubeconfig");
    let text = kubeconfig::render(&url, &pki.ca.cert_pem, pki::ADMIN_USER, &pki.admin);
    pki::write_file(&kubeconfig_path, text.as_bytes(), 0o600)?;
    Ok((
        tls,
        StandaloneConfig {
            url,
            kubeconfig: kubeconfig_path,
            pki_dir,
            tls_sans: options.tls_sans.clone(),
            serving_cert,
        },
    ))
}

/// The TLS library's algorithms (ring), as the rest of the server uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The address a local client dials to reach a server bound to `bind`.
pub(crate) fn client_host(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `Config::from_options` for standalone mode in a fresh data dir, with `extra` flags.
    fn config_with(data_dir: &std::path::Path, extra: &[&str]) -> Result<Config> {
        let mut args = vec![
            "prepull-apiserver",
            "--standalone",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Config::from_options(Options::parse_from(args))
    }

    /// A certificate, its key and its CA, as PEM files in `dir`.
    fn pem_files(dir: &std::path::Path) -> (String, String, String) {
        let ca = pki::new_ca("test-etcd-ca").unwrap();
        let client = pki::issue_client(&pki::issuer(&ca).unwrap(), "client", &[]).unwrap();
        let path = |name: &str| dir.join(name).display().to_string();
        std::fs::write(path("ca.crt"), &ca.cert_pem).unwrap();
        std::fs::write(path("client.crt"), &client.cert_pem).unwrap();
        std::fs::write(path("client.key"), &client.key_pem).unwrap();
        (path("ca.crt"), path("client.crt"), path("client.key"))
    }

    fn message(result: Result<Config>) -> String {
        format!("{:#}", result.expect_err("the configuration is refused"))
    }

    #[test]
    fn etcd_tls_flags_load_for_https_servers() {
        let files = tempfile::tempdir().unwrap();
        let (ca, cert, key) = pem_files(files.path());
        let data = tempfile::tempdir().unwrap();
        let config = config_with(
            data.path(),
            &[
                "--etcd-servers",
                "https://127.0.0.1:2379",
                "--etcd-cafile",
                &ca,
                "--etcd-certfile",
                &cert,
                "--etcd-keyfile",
                &key,
            ],
        )
        .unwrap();
        let StorageConfig::Etcd { tls, .. } = &config.storage else {
            panic!("etcd storage: {:?}", config.storage);
        };
        assert!(tls.as_ref().unwrap().has_client_certificate());
    }

    #[test]
    fn a_certificate_without_its_key_is_refused_before_anything_is_written() {
        let files = tempfile::tempdir().unwrap();
        let (ca, cert, _) = pem_files(files.path());
        let data = tempfile::tempdir().unwrap();
        let error = message(config_with(
            data.path(),
            &[
                "--etcd-servers",
                "https://127.0.0.1:2379",
                "--etcd-cafile",
                &ca,
                "--etcd-certfile",
                &cert,
            ],
        ));
        assert!(
            error.contains("--etcd-certfile needs --etcd-keyfile"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_dir(data.path()).unwrap().count(),
            0,
            "no PKI or kubeconfig was written"
        );
    }

    #[test]
    fn a_missing_etcd_file_is_a_config_error_naming_it() {
        let data = tempfile::tempdir().unwrap();
        let error = message(config_with(
            data.path(),
            &[
                "--etcd-servers",
                "https://127.0.0.1:2379",
                "--etcd-cafile",
                "/nonexistent/etcd-ca.crt",
            ],
        ));
        assert!(error.contains("/nonexistent/etcd-ca.crt"), "{error}");
    }

    #[test]
    fn etcd_tls_flags_need_https_etcd_servers() {
        let files = tempfile::tempdir().unwrap();
        let (ca, _, _) = pem_files(files.path());
        let data = tempfile::tempdir().unwrap();
        let plain = message(config_with(
            data.path(),
            &[
                "--etcd-servers",
                "http://127.0.0.1:2379",
                "--etcd-cafile",
                &ca,
            ],
        ));
        assert!(plain.contains("not https://"), "{plain}");
        let embedded = message(config_with(data.path(), &["--etcd-cafile", &ca]));
        assert!(embedded.contains("need --etcd-servers"), "{embedded}");
    }
}
