//! The validated configuration: everything [`crate::run`] needs, checked before anything binds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::options::Options;
use crate::serve::{ServingConfig, server_tls_config};
use crate::standalone::{kubeconfig, pki};

/// The server's configuration, built from [`Options`].
#[derive(Debug)]
pub struct Config {
    pub serving: ServingConfig,
    pub standalone: StandaloneConfig,
}

/// What standalone mode prepared.
#[derive(Debug)]
pub struct StandaloneConfig {
    /// The URL clients use.
    pub url: String,
    /// The admin kubeconfig written for this run.
    pub kubeconfig: PathBuf,
}

impl Config {
    /// Validates `options` and prepares what they name (the standalone PKI and kubeconfig).
    pub fn from_options(options: Options) -> Result<Config> {
        if !options.standalone {
            bail!("cluster mode is not available yet: run with --standalone");
        }
        if options.http2_max_streams < 250 {
            bail!(
                "--http2-max-streams must be at least 250 (kube-apiserver multiplexes every watch over one connection)"
            );
        }
        let pki = pki::Pki::ensure(&options.data_dir.join("pki"), &options.tls_sans)
            .context("preparing the standalone certificates")?;
        let tls = server_tls_config(
            &pki.serving.cert_pem,
            &pki.serving.key_pem,
            Some(&pki.ca.cert_pem),
        )?;
        let addr = SocketAddr::new(options.bind_address, options.secure_port);
        let url = format!(
            "https://{}",
            SocketAddr::new(client_host(options.bind_address), options.secure_port)
        );
        let kubeconfig_path = options.data_dir.join("kubeconfig");
        let text = kubeconfig::render(&url, &pki.ca.cert_pem, pki::ADMIN_USER, &pki.admin);
        pki::write_file(&kubeconfig_path, text.as_bytes(), 0o600)?;
        Ok(Config {
            serving: ServingConfig {
                addr,
                tls,
                http2_max_streams: options.http2_max_streams,
                shutdown_timeout: Duration::from_secs(options.shutdown_timeout_seconds),
            },
            standalone: StandaloneConfig {
                url,
                kubeconfig: kubeconfig_path,
            },
        })
    }
}

/// The address a local client dials to reach a server bound to `bind`.
fn client_host(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}
