//! ImagePullJob: pull one image on a set of nodes (namespaced).

// Field docs are also the OpenAPI descriptions kubectl prints; Kubernetes writes URLs bare there.
#![allow(rustdoc::bare_urls)]

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::group::{ApiVersion, impl_kruise_resource};
use crate::job_condition::JobCondition;
use crate::job_template::ImagePullJobTemplate;

/// ImagePullJob pulls one image on a set of nodes: all nodes, named nodes, nodes matching a
/// label selector, or the nodes running matching pods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePullJob {
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
    pub spec: ImagePullJobSpec,

    /// Progress of the job, written by the controller through the status subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ImagePullJobStatus>,
}

impl Default for ImagePullJob {
    /// An empty job with `apiVersion`/`kind` set for the preferred version.
    fn default() -> Self {
        ImagePullJob {
            api_version: ApiVersion::PREFERRED.api_version().to_owned(),
            kind: "ImagePullJob".to_owned(),
            metadata: ObjectMeta::default(),
            spec: ImagePullJobSpec::default(),
            status: None,
        }
    }
}

impl ImagePullJob {
    /// A job named `name` (in no namespace yet) with the given spec and no status.
    pub fn new(name: &str, spec: ImagePullJobSpec) -> Self {
        ImagePullJob {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            ..ImagePullJob::default()
        }
    }
}

impl_kruise_resource!(ImagePullJob, NamespaceResourceScope);

/// Desired state of an ImagePullJob: the image plus the shared job template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["image"]))]
pub struct ImagePullJobSpec {
    /// Image to pull, as a docker reference (e.g. `nginx:1.9.1`, `ghcr.io/org/app@sha256:...`).
    /// Required.
    #[serde(default)]
    pub image: String,

    /// Fields shared with ImageListPullJob, inlined in this object.
    #[serde(flatten)]
    pub template: ImagePullJobTemplate,
}

/// Observed state of an ImagePullJob. The four counters are always present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["desired"]))]
pub struct ImagePullJobStatus {
    /// When the controller first acted on the job (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the job finished (RFC 3339, UTC). Unset while running and for type Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Number of nodes the job targets.
    #[serde(default)]
    pub desired: i32,

    /// Number of nodes currently pulling.
    #[serde(default)]
    pub active: i32,

    /// Number of nodes that pulled the image.
    #[serde(default)]
    pub succeeded: i32,

    /// Number of nodes that failed to pull the image.
    #[serde(default)]
    pub failed: i32,

    /// Human-readable summary of the job's state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,

    /// Names of the nodes that failed to pull the image, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub failed_nodes: Vec<String>,

    /// Complete / Failed conditions, for `kubectl wait --for=condition=Complete`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["type"],
        "x-kubernetes-patch-merge-key" = "type",
        "x-kubernetes-patch-strategy" = "merge",
    ))]
    pub conditions: Vec<JobCondition>,

    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A list of ImagePullJobs, as returned by list calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["items"]))]
pub struct ImagePullJobList {
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

    /// The ImagePullJobs.
    #[serde(default)]
    pub items: Vec<ImagePullJob>,
}
