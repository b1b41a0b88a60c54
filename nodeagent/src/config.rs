//! The validated configuration a run needs, built from [`crate::options::Options`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::credential_provider::{CredentialProviders, ProviderConfigError};
use crate::docker_config::DockerConfigError;
use crate::docker_config_file::DockerConfigFile;
use crate::options::Options;

/// Why the options do not make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The kubeconfig could not be loaded.
    #[error("loading the kubeconfig: {0}")]
    Kubeconfig(String),
    /// A `--node-labels` item is not `key=value`.
    #[error("--node-labels: {0:?} is not key=value")]
    Label(String),
    /// `--node-name` is empty.
    #[error("--node-name (or NODE_NAME) must not be empty")]
    NodeName,
    /// `--max-concurrent-pulls` is 0.
    #[error("--max-concurrent-pulls must be at least 1")]
    MaxConcurrentPulls,
    /// `--credential-provider-config` is unusable.
    #[error("--credential-provider-config: {0}")]
    CredentialProviders(#[from] ProviderConfigError),
    /// `--docker-config` is unusable.
    #[error("--docker-config: {0}")]
    DockerConfig(#[from] DockerConfigError),
}

/// What [`crate::run_until`] runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach the API server, as whom.
    pub kube: kube::Config,
    /// This node's name (and its NodeImage's).
    pub node_name: String,
    /// Labels the agent keeps on its NodeImage.
    pub node_labels: BTreeMap<String, String>,
    /// The CRI endpoint given, or `None` to probe the usual sockets.
    pub cri_endpoint: Option<String>,
    /// Pulls running at once.
    pub max_concurrent_pulls: usize,
    /// Node-level registry credentials (the file is re-read when it changes).
    pub credentials: Arc<DockerConfigFile>,
    /// Credential-provider plugins (asked after the docker config).
    pub credential_providers: Arc<CredentialProviders>,
    /// Health endpoint port; 0 for none.
    pub health_port: u16,
    /// Address the health endpoint listens on.
    pub health_bind_address: std::net::IpAddr,
    /// Least time between status writes.
    pub status_interval: Duration,
    /// Whether pulled images are pinned while wanted ([`crate::image_pins`]).
    pub pin_images: bool,
    /// The stall period ([`crate::stall_detection`]); `None`: off.
    pub stall_timeout: Option<Duration>,
    /// The image filesystem's free-space reserve in percent ([`crate::disk_reserve`]).
    pub disk_reserve_percent: u8,
}

impl Config {
    /// Validates `options` and loads the kubeconfig and docker config they name.
    pub async fn from_options(options: Options) -> Result<Config, ConfigError> {
        if options.node_name.is_empty() {
            return Err(ConfigError::NodeName);
        }
        if options.max_concurrent_pulls == 0 {
            return Err(ConfigError::MaxConcurrentPulls);
        }
        let mut node_labels = BTreeMap::new();
        for item in options.node_labels.iter().filter(|item| !item.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| ConfigError::Label(item.clone()))?;
            node_labels.insert(key.to_owned(), value.to_owned());
        }
        let kube = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|err| ConfigError::Kubeconfig(format!("{}: {err}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .map_err(|err| ConfigError::Kubeconfig(format!("{}: {err}", path.display())))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|err| ConfigError::Kubeconfig(err.to_string()))?,
        };
        let credentials = match &options.docker_config {
            Some(path) => DockerConfigFile::load(path)?,
            None => DockerConfigFile::none(),
        };
        let credential_providers = match &options.credential_provider_config {
            Some(path) => CredentialProviders::load(path, &options.credential_provider_bin_dir)?,
            None => CredentialProviders::default(),
        };
        Ok(Config {
            kube,
            node_name: options.node_name,
            node_labels,
            cri_endpoint: options.cri_endpoint,
            max_concurrent_pulls: options.max_concurrent_pulls,
            credentials: Arc::new(credentials),
            credential_providers: Arc::new(credential_providers),
            health_port: options.health_port,
            health_bind_address: options.health_bind_address,
            status_interval: Duration::from_millis(options.status_interval_ms),
            pin_images: options.pin_images,
            stall_timeout: (options.stall_timeout_seconds > 0)
                .then(|| Duration::from_secs(options.stall_timeout_seconds)),
            disk_reserve_percent: options.disk_reserve_percent,
        })
    }
}
