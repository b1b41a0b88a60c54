//! NodeImage: the images one node should hold and how their pulls went (cluster-scoped, one
//! per Node, same name and labels as the Node).

// Field docs are also the OpenAPI descriptions kubectl prints; Kubernetes writes URLs bare there.
#![allow(rustdoc::bare_urls)]

use std::collections::BTreeMap;

use k8s_openapi::ClusterResourceScope;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::go_json::{empty_as_none, is_zero};
use crate::group::{ApiVersion, impl_kruise_resource};
use crate::job_template::{ImagePullPolicy, SandboxConfig};
use crate::node_image_condition::NodeImageCondition;
use crate::string_enum::open_string_enum;

/// NodeImage lists the images to pull on one node (spec) and the state of each pull (status).
/// There is one per Node, with the Node's name and labels. Low-level: prefer ImagePullJob.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeImage {
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

    /// Images to pull on this node.
    #[serde(default)]
    pub spec: NodeImageSpec,

    /// State of the pulls on this node, written by the node agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeImageStatus>,
}

impl Default for NodeImage {
    /// An empty NodeImage with `apiVersion`/`kind` set for the preferred version.
    fn default() -> Self {
        NodeImage {
            api_version: ApiVersion::PREFERRED.api_version().to_owned(),
            kind: "NodeImage".to_owned(),
            metadata: ObjectMeta::default(),
            spec: NodeImageSpec::default(),
            status: None,
        }
    }
}

impl NodeImage {
    /// A NodeImage for the node `name` with the given spec and no status.
    pub fn new(name: &str, spec: NodeImageSpec) -> Self {
        NodeImage {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            ..NodeImage::default()
        }
    }
}

impl_kruise_resource!(NodeImage, ClusterResourceScope);

/// Images to pull on one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeImageSpec {
    /// Images to pull, keyed by image name without tag (e.g. `nginx`, `ghcr.io/org/app`).
    /// At most 256 images.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, ImageSpec>,
}

/// How to pull the tags of one image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["tags"]))]
pub struct ImageSpec {
    /// Secrets used to pull this image, by namespace and name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["namespace", "name"],
    ))]
    pub pull_secrets: Vec<ReferenceObject>,

    /// Tags (or digests) of this image to pull, sorted by tag, each at most once.
    #[serde(default)]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["tag"],
        "x-kubernetes-patch-merge-key" = "tag",
        "x-kubernetes-patch-strategy" = "merge",
    ))]
    pub tags: Vec<ImageTagSpec>,

    /// Labels and annotations attached as the pod sandbox config of the CRI PullImage call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_config: Option<SandboxConfig>,
}

/// A reference to a secret, `<namespace>/<name>`; both are required (they are the keys of
/// the `pullSecrets` list).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["namespace", "name"]))]
pub struct ReferenceObject {
    /// Namespace of the secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,

    /// Name of the secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,

    /// How the secret was synchronised to the node; `batch` marks secrets shared by several
    /// jobs, cleaned up together with the image. Served in v1beta1 only; kept when an update
    /// arrives through v1alpha1.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
}

/// How to pull one tag of an image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["tag"]))]
pub struct ImageTagSpec {
    /// The tag, or a digest such as `sha256:...`.
    #[serde(default)]
    pub tag: String,

    /// When this tag was added. Defaulted to the time of the write that added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,

    /// Timeout, retries and lifetime of the pull. ttlSecondsAfterFinished is required;
    /// timeoutSeconds defaults to 600 and backoffLimit to 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<ImageTagPullPolicy>,

    /// Objects (usually ImagePullJobs) that asked for this tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<ObjectReference>,

    /// Opaque version of this tag's request, bumped by the writer when it asks for a new
    /// pull; the node agent reports the version it handled in status. Must not be negative.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,

    /// Whether to pull even if the image is already on the node: Always or IfNotPresent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub image_pull_policy: Option<ImagePullPolicy>,
}

/// Timeout, retries and lifetime of one tag's pull.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageTagPullPolicy {
    /// Timeout in seconds of one pull attempt. Defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,

    /// Retries after the first failed attempt. Defaults to 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,

    /// Seconds after the pull finished (succeeded or failed) at which the tag is removed from
    /// spec and status; 0 removes it right away. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,

    /// Seconds after the pull started at which it is abandoned. Must be positive; no default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
}

/// State of the pulls on one node. The counters are always present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["desired"]))]
pub struct NodeImageStatus {
    /// Number of tags in spec.
    #[serde(default)]
    pub desired: i32,

    /// Number of tags pulled successfully.
    #[serde(default)]
    pub succeeded: i32,

    /// Number of tags whose pull failed.
    #[serde(default)]
    pub failed: i32,

    /// Number of tags being pulled.
    #[serde(default)]
    pub pulling: i32,

    /// Number of tags waiting for their pull to start.
    #[serde(default)]
    pub waiting: i32,

    /// Pull state per image name (same keys as spec.images).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_statuses: BTreeMap<String, ImageStatus>,

    /// When every pull requested when the node joined had finished, and how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sync_status: Option<SyncStatus>,

    /// Conditions the server reports (not in OpenKruise): ImagesReady, True once every
    /// ImagePullJob annotated `prepull.io/required-for-readiness: "true"` that targets this
    /// node has succeeded here (or none targets it). Written by the server only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["type"],
        "x-kubernetes-patch-merge-key" = "type",
        "x-kubernetes-patch-strategy" = "merge",
    ))]
    pub conditions: Vec<NodeImageCondition>,
}

/// Pull state of the tags of one image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["tags"]))]
pub struct ImageStatus {
    /// One entry per tag, sorted by tag.
    #[serde(default)]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["tag"],
        "x-kubernetes-patch-merge-key" = "tag",
        "x-kubernetes-patch-strategy" = "merge",
    ))]
    pub tags: Vec<ImageTagStatus>,
}

open_string_enum! {
    /// Phase of one tag's pull on a node (Go `ImagePullPhase`).
    pub enum ImagePullPhase {
        /// Not started yet.
        Waiting = "Waiting",
        /// In progress.
        Pulling = "Pulling",
        /// Pulled.
        Succeeded = "Succeeded",
        /// Gave up after the retries or the deadline.
        Failed = "Failed",
    }
}

/// Pull state of one tag on a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["tag", "phase"]))]
pub struct ImageTagStatus {
    /// The tag (or digest) this entry is about.
    #[serde(default)]
    pub tag: String,

    /// Waiting, Pulling, Succeeded or Failed.
    #[serde(default)]
    pub phase: ImagePullPhase,

    /// Pull progress in percent (0 to 100). May go back when a pull is retried.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub progress: i32,

    /// When the node agent started the pull (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the pull finished (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// The spec version of this tag the node agent handled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,

    /// ID of the pulled image as reported by the container runtime.
    #[serde(rename = "imageID", default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,

    /// Details, e.g. the error of the last failed attempt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

open_string_enum! {
    /// Outcome of a node's first sync (Go `SyncStatusPhase`).
    pub enum SyncStatusPhase {
        /// Every pull succeeded.
        Succeeded = "Succeeded",
        /// Some pull failed.
        Failed = "Failed",
    }
}

/// Summary of the pulls a node had to do when it joined the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// When those pulls had all finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_at: Option<Time>,

    /// Succeeded or Failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub status: Option<SyncStatusPhase>,

    /// Details about the outcome.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A list of NodeImages, as returned by list calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["items"]))]
pub struct NodeImageList {
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

    /// The NodeImages.
    #[serde(default)]
    pub items: Vec<NodeImage>,
}
