//! The job template shared by ImagePullJob and ImageListPullJob (Go `ImagePullJobTemplate`,
//! inlined into both specs), and the small policy types it is made of.
//!
//! Field docs here are user-facing: they become the OpenAPI descriptions that
//! `kubectl explain imagepulljob.spec.<field>` prints.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::go_json::empty_as_none;
use crate::string_enum::open_string_enum;

open_string_enum! {
    /// When the node agent pulls an image (Go `ImagePullPolicy`).
    pub enum ImagePullPolicy {
        /// Pull every time, even if an image with this name is already on the node.
        Always = "Always",
        /// Pull only if the image is not already on the node (the default).
        IfNotPresent = "IfNotPresent",
    }
}

open_string_enum! {
    /// Whether a job ever finishes (Go `CompletionPolicyType`).
    pub enum CompletionPolicyType {
        /// The job finishes once every target node succeeded or failed, or at its deadline.
        Always = "Always",
        /// The job never finishes and keeps pulling on nodes that start matching later.
        Never = "Never",
    }
}

/// Settings shared by ImagePullJob and ImageListPullJob (inlined into their `spec`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ImagePullJobTemplate {
    /// Names of image pull secrets in the job's namespace, passed to the image puller on each
    /// node (only docker config secrets are honored). Immutable after creation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,

    /// Which nodes pull the image: either a list of node names or a label selector over nodes,
    /// not both. When neither this nor podSelector is set, every node pulls the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<ImagePullJobNodeSelector>,

    /// Pull the image on the nodes running pods that match this label selector (pods in the
    /// job's namespace). Mutually exclusive with selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<ImagePullJobPodSelector>,

    /// Maximum number of nodes pulling at the same time: a non-negative integer (or a string
    /// holding one; percentages are not supported). Defaults to 1; 0 pauses the job until it is
    /// raised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<IntOrString>,

    /// Per-node pull attempt settings (timeout and retries). Missing values are defaulted:
    /// timeoutSeconds 600, backoffLimit 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,

    /// When the job finishes and is cleaned up. Defaults to type Always.
    pub completion_policy: CompletionPolicy,

    /// Labels and annotations attached as the pod sandbox config of the CRI PullImage call, as
    /// kubelet does for pod images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_config: Option<SandboxConfig>,

    /// Whether to pull even if the image is already on the node: Always or IfNotPresent.
    /// Defaults to IfNotPresent.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub image_pull_policy: Option<ImagePullPolicy>,
}

/// Nodes a job targets: `names`, or a label selector (`matchLabels`/`matchExpressions`), not both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePullJobNodeSelector {
    /// Names of the nodes to pull on. Must not repeat a name; cannot be combined with
    /// matchLabels or matchExpressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,

    /// Label query over nodes (`matchLabels`, `matchExpressions`), inlined in this object.
    #[serde(flatten)]
    pub label_selector: LabelSelector,
}

impl ImagePullJobNodeSelector {
    /// Whether any label selector field is present (even if empty), the test OpenKruise uses to
    /// decide that the selector is label-based.
    pub fn has_label_selector(&self) -> bool {
        self.label_selector.match_labels.is_some()
            || self.label_selector.match_expressions.is_some()
    }
}

/// Pods whose nodes a job targets: a label selector over pods in the job's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImagePullJobPodSelector {
    /// Label query over pods (`matchLabels`, `matchExpressions`), inlined in this object.
    #[serde(flatten)]
    pub label_selector: LabelSelector,
}

/// Timeout and retries of each node's pull.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullPolicy {
    /// Timeout in seconds of one pull attempt on a node. Must be positive. Defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,

    /// Retries after the first failed attempt before the node counts as failed. Must not be
    /// negative. Defaults to 3 (4 attempts in all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
}

/// When a job finishes and how long it is kept afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompletionPolicy {
    /// Always (the default): the job finishes once every target node succeeded or failed, or
    /// when activeDeadlineSeconds passes. Never: the job runs until deleted and also pulls on
    /// nodes that start matching later.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub type_: Option<CompletionPolicyType>,

    /// Seconds after the job started at which it is stopped and marked failed. Only with type
    /// Always; must be positive and greater than pullPolicy.timeoutSeconds. No default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,

    /// Seconds after the job finished (succeeded or failed) at which it is deleted; 0 deletes
    /// it right away. Only with type Always. Unset keeps the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
}

/// Metadata attached to the CRI PullImage call as its pod sandbox config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SandboxConfig {
    /// Labels of the pod sandbox config sent with PullImage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Annotations of the pod sandbox config sent with PullImage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}
