//! The two CRI image calls the agent makes, each with a deadline: is an image present
//! (`ImageStatus`), and pull it (`PullImage`) with credentials and a sandbox config.

use std::collections::HashMap;
use std::time::Duration;

use prepull_cri::runtime::v1::image_service_client::ImageServiceClient;
use prepull_cri::runtime::v1::{
    AuthConfig, ImageSpec, ImageStatusRequest, PodSandboxConfig, PullImageRequest,
};
use tonic::transport::Channel;

use crate::docker_config::Credential;

/// Deadline of an `ImageStatus` call.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack over the gRPC deadline after which a pull is abandoned even if the runtime never
/// answers the cancellation.
const DEADLINE_SLACK: Duration = Duration::from_secs(2);

/// Why a CRI call failed; the message is the runtime's own words where it gave some.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime answered with an error (e.g. NotFound "...: not found", Unknown "...401
    /// Unauthorized").
    #[error("{0}")]
    Failed(String),
    /// The call hit its deadline.
    #[error("pull did not finish within {0:?} (timeoutSeconds)")]
    Timeout(Duration),
}

/// A CRI image service with deadlines on every call.
#[derive(Debug, Clone)]
pub struct ImageRuntime {
    client: ImageServiceClient<Channel>,
}

/// What a pull carries besides the image: credentials and the pod sandbox config.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Credentials to send, or `None` for an anonymous pull.
    pub credential: Option<Credential>,
    /// Labels of the sandbox config.
    pub labels: HashMap<String, String>,
    /// Annotations of the sandbox config.
    pub annotations: HashMap<String, String>,
}

impl ImageRuntime {
    /// The image service on `channel`.
    pub fn new(channel: Channel) -> ImageRuntime {
        ImageRuntime {
            client: ImageServiceClient::new(channel),
        }
    }

    /// The id of the image `reference` names, when the runtime has it.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>, RuntimeError> {
        let mut request = tonic::Request::new(ImageStatusRequest {
            image: Some(image_spec(reference)),
            verbose: false,
        });
        request.set_timeout(STATUS_TIMEOUT);
        let response = self.call_with_deadline(STATUS_TIMEOUT, async {
            self.client.clone().image_status(request).await
        });
        Ok(response
            .await?
            .image
            .map(|image| image.id)
            .filter(|id| !id.is_empty()))
    }

    /// Pulls `reference` within `timeout`; returns the image id the runtime reports.
    pub async fn pull(
        &self,
        reference: &str,
        options: &PullOptions,
        timeout: Duration,
    ) -> Result<String, RuntimeError> {
        // containerd rejects a bare host:port server_address and drops credentials for a
        // non-matching one: empty means "for whatever host this pull contacts".
        let auth = options.credential.as_ref().map(|credential| AuthConfig {
            username: credential.username.clone(),
            password: credential.password.clone(),
            ..AuthConfig::default()
        });
        let mut request = tonic::Request::new(PullImageRequest {
            image: Some(image_spec(reference)),
            auth,
            sandbox_config: Some(PodSandboxConfig {
                labels: options.labels.clone(),
                annotations: options.annotations.clone(),
                ..PodSandboxConfig::default()
            }),
        });
        request.set_timeout(timeout);
        let response = self.call_with_deadline(timeout, async {
            self.client.clone().pull_image(request).await
        });
        Ok(response.await?.image_ref)
    }

    async fn call_with_deadline<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, RuntimeError> {
        match tokio::time::timeout(timeout + DEADLINE_SLACK, call).await {
            Err(_elapsed) => Err(RuntimeError::Timeout(timeout)),
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) if is_deadline(&status) => Err(RuntimeError::Timeout(timeout)),
            Ok(Err(status)) => Err(RuntimeError::Failed(status.message().to_owned())),
        }
    }
}

/// tonic reports its own deadline as Cancelled "Timeout expired"; a runtime may say
/// DeadlineExceeded.
fn is_deadline(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::DeadlineExceeded
        || (status.code() == tonic::Code::Cancelled && status.message().contains("Timeout"))
}

fn image_spec(reference: &str) -> ImageSpec {
    ImageSpec {
        image: reference.to_owned(),
        ..ImageSpec::default()
    }
}
