//! ImageListPullJob: pull several images on a set of nodes (namespaced), through one child
//! ImagePullJob per image.

// Field docs are also the OpenAPI descriptions kubectl prints; Kubernetes writes URLs bare there.
#![allow(rustdoc::bare_urls)]

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::group::{ApiVersion, impl_kruise_resource};
use crate::job_template::ImagePullJobTemplate;

/// ImageListPullJob pulls a list of images on a set of nodes by running one ImagePullJob per
/// image; its status sums up those children.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageListPullJob {
    /// APIVersion defines the versioned schema of this representation of an object. Servers
    /// should convert recognized schemas to the latest internal value, and may reject
    /// unrecognized values. More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,

    /// Kind is a string value representing the REST resource this object represents. Servers
    /// may infer this from the endpoint the client submits requests to. Cannot be updated. In
    /// CamelCase. More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,

    /// Standard object's metadata. More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata
    #[serde(default)]
    pub metadata: ObjectMeta,

    /// What to pull and where.
    #[serde(default)]
    pub spec: ImageListPullJobSpec,

    /// Progress of the job, computed from its child ImagePullJobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ImageListPullJobStatus>,
}

impl Default for ImageListPullJob {
    /// An empty job with `apiVersion`/`kind` set for the preferred version.
    fn default() -> Self {
        ImageListPullJob {
            api_version: ApiVersion::PREFERRED.api_version().to_owned(),
            kind: "ImageListPullJob".to_owned(),
            metadata: ObjectMeta::default(),
            spec: ImageListPullJobSpec::default(),
            status: None,
        }
    }
}

impl ImageListPullJob {
    /// A job named `name` (in no namespace yet) with the given spec and no status.
    pub fn new(name: &str, spec: ImageListPullJobSpec) -> Self {
        ImageListPullJob {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            ..ImageListPullJob::default()
        }
    }
}

impl_kruise_resource!(ImageListPullJob, NamespaceResourceScope);

/// Desired state of an ImageListPullJob: the images plus the shared job template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["images"]))]
pub struct ImageListPullJobSpec {
    /// Images to pull (1 to 255 docker references, no duplicates). Each gets its own child
    /// ImagePullJob. Required.
    #[serde(default)]
    pub images: Vec<String>,

    /// Fields shared with ImagePullJob, applied to every child job; inlined in this object.
    #[serde(flatten)]
    pub template: ImagePullJobTemplate,
}

/// Observed state of an ImageListPullJob. The counters are always present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["desired"]))]
pub struct ImageListPullJobStatus {
    /// When the controller first acted on the job (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When every child ImagePullJob had finished (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Number of child ImagePullJobs wanted: the number of images.
    #[serde(default)]
    pub desired: i32,

    /// Number of child ImagePullJobs running.
    #[serde(default)]
    pub active: i32,

    /// Number of child ImagePullJobs that finished.
    #[serde(default)]
    pub completed: i32,

    /// Number of child ImagePullJobs that finished with every node succeeding.
    #[serde(default)]
    pub succeeded: i32,

    /// Child jobs in which some node failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_image_statuses: Vec<FailedImageStatus>,
}

/// A child ImagePullJob in which at least one node failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedImageStatus {
    /// Name of the child ImagePullJob.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_pull_job: String,

    /// The image that child job pulls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,

    /// The child job's status message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A list of ImageListPullJobs, as returned by list calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["items"]))]
pub struct ImageListPullJobList {
    /// APIVersion defines the versioned schema of this representation of an object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,

    /// Kind is a string value representing the REST resource this object represents.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,

    /// Standard list metadata. More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds
    #[serde(default)]
    pub metadata: ListMeta,

    /// The ImageListPullJobs.
    #[serde(default)]
    pub items: Vec<ImageListPullJob>,
}
