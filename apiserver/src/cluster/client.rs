//! The kube-rs client of the main cluster: from a kubeconfig file, or the pod's in-cluster
//! service account.

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long connecting to kube-apiserver may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("no --kubeconfig given and not running in a pod (in-cluster configuration: {0})")]
    InCluster(String),
    #[error("building the Kubernetes client: {0}")]
    Build(String),
}

/// A client for the cluster `kubeconfig` names, or the in-cluster one when `None`.
/// Requests get a 10 s connect timeout; callers bound each call with their own deadline.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<kube::Client, ClientError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let failed = |message: String| ClientError::Kubeconfig {
                path: path.display().to_string(),
                message,
            };
            let file = Kubeconfig::read_from(path).map_err(|e| failed(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| failed(e.to_string()))?
        }
        None => kube::Config::incluster().map_err(|e| ClientError::InCluster(e.to_string()))?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    kube::Client::try_from(config).map_err(|e| ClientError::Build(e.to_string()))
}
