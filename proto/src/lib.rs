//! The slice of the Kubernetes Container Runtime Interface (CRI v1, package `runtime.v1`) that
//! Prepull's node agent speaks, as tonic clients, and a way to reach a runtime over its unix
//! socket. Plus, for containerd, the one call of its own content API the agent uses to see a
//! pull's bytes arrive ([`containerd::services::content::v1`], `ListStatuses`), and the image
//! records it labels to pin what it pulled ([`containerd::services::images::v1`]).
//!
//! Start reading at `runtime/v1/api.proto` (what is on the wire and where each field number comes
//! from), then [`connect_unix`]. Typical use:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use prepull_cri::runtime::v1::{ImageSpec, PullImageRequest, image_service_client::ImageServiceClient};
//!
//! let channel = prepull_cri::connect("unix:///run/containerd/containerd.sock").await?;
//! let mut images = ImageServiceClient::new(channel);
//! let mut request = tonic::Request::new(PullImageRequest {
//!     image: Some(ImageSpec { image: "registry.example/app:v1".into(), ..Default::default() }),
//!     ..Default::default()
//! });
//! // containerd has no pull timeout of its own: every pull needs a deadline.
//! request.set_timeout(std::time::Duration::from_secs(60));
//! let image_id = images.pull_image(request).await?.into_inner().image_ref;
//! # Ok(()) }
//! ```
//!
//! The generated server traits (`image_service_server`, `runtime_service_server`) exist for
//! fake runtimes in tests; serving them needs tonic's `server` feature in the using crate.

mod unix_socket;

pub use unix_socket::{
    ConnectError, DEFAULT_CONNECT_TIMEOUT, connect, connect_unix, connect_unix_with_timeout,
    socket_path,
};

/// CRI v1 messages and services, generated from `runtime/v1/api.proto`.
pub mod runtime {
    /// Package `runtime.v1`.
    pub mod v1 {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("runtime.v1");
    }
}

/// containerd's own API (not CRI), generated from `containerd/services/content/v1/content.proto`
/// and `containerd/services/images/v1/images.proto`. Every call needs the
/// [`CONTAINERD_NAMESPACE_HEADER`] metadata.
pub mod containerd {
    /// Package `containerd.types`.
    pub mod types {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("containerd.types");
    }
    /// containerd services.
    pub mod services {
        /// Image records.
        pub mod images {
            /// Package `containerd.services.images.v1`.
            pub mod v1 {
                #![allow(missing_docs, clippy::all)]
                tonic::include_proto!("containerd.services.images.v1");
            }
        }
        /// The content store.
        pub mod content {
            /// Package `containerd.services.content.v1`.
            pub mod v1 {
                #![allow(missing_docs, clippy::all)]
                tonic::include_proto!("containerd.services.content.v1");
            }
        }
    }
}

/// The gRPC metadata key naming the containerd namespace a call works in.
pub const CONTAINERD_NAMESPACE_HEADER: &str = "containerd-namespace";
/// The label containerd's CRI plugin (1.7 and later) reads as "pinned": kubelet's image garbage
/// collection skips a pinned image.
pub const CRI_PINNED_LABEL: &str = "io.cri-containerd.pinned";
/// Its value.
pub const CRI_PINNED_VALUE: &str = "pinned";
/// The namespace containerd's CRI plugin keeps Kubernetes images in.
pub const CRI_CONTAINERD_NAMESPACE: &str = "k8s.io";
