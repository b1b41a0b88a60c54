//! Finding the container runtime: the endpoint given, or the first of the usual sockets whose
//! runtime answers CRI `Version`.

use std::time::Duration;

use prepull_cri::runtime::v1::VersionRequest;
use prepull_cri::runtime::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

/// Sockets tried, in order, when no endpoint is given: containerd, CRI-O, cri-dockerd.
pub const PROBED_ENDPOINTS: [&str; 3] = [
    "unix:///run/containerd/containerd.sock",
    "unix:///var/run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
];

/// Deadline of connecting to a runtime and of its `Version` answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// No runtime answered.
#[derive(Debug, thiserror::Error)]
pub enum CriEndpointError {
    /// The endpoint given did not answer.
    #[error("the container runtime at {endpoint} does not answer CRI: {cause}")]
    NotAnswering {
        /// The endpoint given.
        endpoint: String,
        /// What went wrong.
        cause: String,
    },
    /// None of [`PROBED_ENDPOINTS`] answered.
    #[error(
        "no container runtime answers on {tried}; start one or pass --cri-endpoint unix:///path/to/socket"
    )]
    NoneFound {
        /// The endpoints tried, comma separated.
        tried: String,
    },
}

/// A runtime that answered: its endpoint, an open channel, and its name and version.
#[derive(Debug, Clone)]
pub struct CriRuntime {
    /// The endpoint that answered.
    pub endpoint: String,
    /// A channel to it (reconnects on its own when the runtime restarts).
    pub channel: Channel,
    /// `runtime_name runtime_version` as the runtime reports it.
    pub version: String,
    /// `runtime_name` alone (`containerd`, `cri-o`, `docker`...).
    pub name: String,
}

/// The runtime at `endpoint`, or at the first probed socket that answers.
pub async fn find_runtime(endpoint: Option<&str>) -> Result<CriRuntime, CriEndpointError> {
    if let Some(endpoint) = endpoint {
        return probe(endpoint)
            .await
            .map_err(|cause| CriEndpointError::NotAnswering {
                endpoint: endpoint.to_owned(),
                cause,
            });
    }
    for endpoint in PROBED_ENDPOINTS {
        match probe(endpoint).await {
            Ok(runtime) => return Ok(runtime),
            Err(cause) => tracing::debug!(endpoint, cause, "no CRI runtime here"),
        }
    }
    Err(CriEndpointError::NoneFound {
        tried: PROBED_ENDPOINTS.join(", "),
    })
}

async fn probe(endpoint: &str) -> Result<CriRuntime, String> {
    let path = prepull_cri::socket_path(endpoint).map_err(|err| err.to_string())?;
    let channel = prepull_cri::connect_unix_with_timeout(&path, PROBE_TIMEOUT)
        .await
        .map_err(|err| format!("{err}"))?;
    let mut request = tonic::Request::new(VersionRequest {
        version: "v1".to_owned(),
    });
    request.set_timeout(PROBE_TIMEOUT);
    let version = RuntimeServiceClient::new(channel.clone())
        .version(request)
        .await
        .map_err(|status| status.message().to_owned())?
        .into_inner();
    Ok(CriRuntime {
        endpoint: endpoint.to_owned(),
        channel,
        version: format!("{} {}", version.runtime_name, version.runtime_version),
        name: version.runtime_name,
    })
}
