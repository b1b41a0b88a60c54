//! The CRI image calls the agent makes, each with a deadline: is an image present
//! (`ImageStatus`), pull it (`PullImage`, the request built by the caller), and where images are
//! kept (`ImageFsInfo`, for [`crate::disk_reserve`]).

use std::time::Duration;

use prepull_cri::runtime::v1::image_service_client::ImageServiceClient;
use prepull_cri::runtime::v1::{
    ImageFsInfoRequest, ImageSpec, ImageStatusRequest, PullImageRequest,
};
use tonic::transport::Channel;

use crate::metrics::{AgentMetrics, RuntimeCall};

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
    /// The pull's bytes stopped arriving; it was given up ([`crate::stall_detection`]).
    #[error(transparent)]
    Stalled(#[from] crate::stall_detection::Stalled),
    /// The image filesystem is (or would go) below the reserve; not retried.
    #[error(transparent)]
    Disk(#[from] crate::disk_reserve::BelowReserve),
}

/// A CRI image service with deadlines on every call.
#[derive(Debug, Clone)]
pub struct ImageRuntime {
    client: ImageServiceClient<Channel>,
    metrics: AgentMetrics,
}

impl ImageRuntime {
    /// The image service on `channel`; failed calls are counted in `metrics`.
    pub fn new(channel: Channel, metrics: AgentMetrics) -> ImageRuntime {
        ImageRuntime {
            client: ImageServiceClient::new(channel),
            metrics,
        }
    }

    /// The id of the image `reference` names, when the runtime has it.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>, RuntimeError> {
        let mut request = tonic::Request::new(ImageStatusRequest {
            image: Some(image_spec(reference)),
            verbose: false,
        });
        request.set_timeout(STATUS_TIMEOUT);
        let response = self.call_with_deadline(RuntimeCall::ImageStatus, STATUS_TIMEOUT, async {
            self.client.clone().image_status(request).await
        });
        Ok(response
            .await?
            .image
            .map(|image| image.id)
            .filter(|id| !id.is_empty()))
    }

    /// The mountpoint of the runtime's (first) image filesystem, when it names one.
    pub async fn image_filesystem(&self) -> Result<Option<String>, RuntimeError> {
        let mut request = tonic::Request::new(ImageFsInfoRequest {});
        request.set_timeout(STATUS_TIMEOUT);
        let response = self.call_with_deadline(RuntimeCall::ImageFsInfo, STATUS_TIMEOUT, async {
            self.client.clone().image_fs_info(request).await
        });
        Ok(response
            .await?
            .image_filesystems
            .into_iter()
            .filter_map(|usage| usage.fs_id.map(|id| id.mountpoint))
            .find(|mountpoint| !mountpoint.is_empty()))
    }

    /// Sends `request` (see [`pull_task::pull_requests`](crate::pull_task::pull_requests))
    /// with `timeout` as its deadline; returns the image id the runtime reports.
    pub async fn pull(
        &self,
        request: PullImageRequest,
        timeout: Duration,
    ) -> Result<String, RuntimeError> {
        let mut request = tonic::Request::new(request);
        request.set_timeout(timeout);
        let response = self.call_with_deadline(RuntimeCall::PullImage, timeout, async {
            self.client.clone().pull_image(request).await
        });
        Ok(response.await?.image_ref)
    }

    async fn call_with_deadline<T>(
        &self,
        name: RuntimeCall,
        timeout: Duration,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, RuntimeError> {
        let result = match tokio::time::timeout(timeout + DEADLINE_SLACK, call).await {
            Err(_elapsed) => Err(RuntimeError::Timeout(timeout)),
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) if is_deadline(&status) => Err(RuntimeError::Timeout(timeout)),
            Ok(Err(status)) => Err(RuntimeError::Failed(status.message().to_owned())),
        };
        if result.is_err() {
            self.metrics.cri_error(name);
        }
        result
    }
}

/// tonic reports its own deadline as Cancelled "Timeout expired"; a runtime may say
/// DeadlineExceeded.
fn is_deadline(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::DeadlineExceeded
        || (status.code() == tonic::Code::Cancelled && status.message().contains("Timeout"))
}

/// The CRI image spec naming `reference`.
pub fn image_spec(reference: &str) -> ImageSpec {
    ImageSpec {
        image: reference.to_owned(),
        ..ImageSpec::default()
    }
}
