//! Reaching a container runtime over its unix socket, the only transport CRI runtimes on Linux
//! offer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// How long [`connect`] and [`connect_unix`] wait for the runtime to accept the connection and
/// complete the HTTP/2 handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no channel to the runtime could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The endpoint is neither `unix:///path` nor an absolute path; fix the flag or config.
    #[error(
        "unsupported CRI endpoint {endpoint:?}: expected unix:///path/to/socket or /path/to/socket"
    )]
    UnsupportedEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// Nothing accepted a connection on the socket (missing socket, runtime down, no
    /// permission); the runtime is not there, try another socket or report it.
    #[error("cannot connect to the CRI socket {path}")]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// What the transport said.
        #[source]
        source: tonic::transport::Error,
    },
    /// The socket accepted but the connection was not ready within the deadline; the runtime is
    /// hung or overloaded.
    #[error("the CRI socket {path} did not answer within {after:?}")]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// The deadline that passed.
        after: Duration,
    },
}

/// The socket path of a CRI endpoint: `unix:///run/containerd/containerd.sock` or a bare
/// absolute path (as kubelet's `--container-runtime-endpoint` accepts).
pub fn socket_path(endpoint: &str) -> Result<PathBuf, ConnectError> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(ConnectError::UnsupportedEndpoint {
            endpoint: endpoint.to_owned(),
        })
    }
}

/// Opens a channel to the CRI runtime at `endpoint` (see [`socket_path`]) within
/// [`DEFAULT_CONNECT_TIMEOUT`].
pub async fn connect(endpoint: &str) -> Result<Channel, ConnectError> {
    connect_unix(socket_path(endpoint)?).await
}

/// Opens a gRPC channel over the unix socket at `path` within [`DEFAULT_CONNECT_TIMEOUT`]; see
/// [`connect_unix_with_timeout`].
pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Channel, ConnectError> {
    connect_unix_with_timeout(path, DEFAULT_CONNECT_TIMEOUT).await
}

/// Opens a gRPC channel over the unix socket at `path`, failing after `timeout`.
///
/// The connection is made now, so a missing or dead runtime shows up here rather than on the
/// first call. Later, when the runtime restarts, the channel dials the same socket again on its
/// own. Calls on the channel have no deadline: set one per request
/// (`tonic::Request::set_timeout`), above all on `PullImage`, which containerd never times out.
pub async fn connect_unix_with_timeout(
    path: impl AsRef<Path>,
    timeout: Duration,
) -> Result<Channel, ConnectError> {
    let path = path.as_ref().to_path_buf();
    let socket = Arc::new(path.clone());
    // tonic wants a URI; it is never resolved because the connector below ignores it.
    let endpoint = Endpoint::from_static("http://cri.invalid").connect_timeout(timeout);
    let connector = tower::service_fn(move |_: Uri| {
        let socket = Arc::clone(&socket);
        async move {
            let stream = UnixStream::connect(socket.as_path()).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    match tokio::time::timeout(timeout, endpoint.connect_with_connector(connector)).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(source)) => Err(ConnectError::Unreachable { path, source }),
        Err(_elapsed) => Err(ConnectError::Timeout {
            path,
            after: timeout,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_url_names_its_socket_path() {
        let path = socket_path("unix:///run/containerd/containerd.sock").expect("valid endpoint");
        assert_eq!(path, PathBuf::from("/run/containerd/containerd.sock"));
    }

    #[test]
    fn a_bare_absolute_path_is_a_socket_path() {
        let path = socket_path("/var/run/crio/crio.sock").expect("valid endpoint");
        assert_eq!(path, PathBuf::from("/var/run/crio/crio.sock"));
    }

    #[test]
    fn tcp_and_relative_endpoints_are_rejected() {
        for endpoint in ["tcp://127.0.0.1:1234", "unix://relative.sock", "crio.sock"] {
            let error = socket_path(endpoint).expect_err(endpoint);
            assert!(
                matches!(error, ConnectError::UnsupportedEndpoint { .. }),
                "{endpoint}: {error}"
            );
        }
    }
}
