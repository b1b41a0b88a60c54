//! Conditions on NodeImage status (ours, additive: OpenKruise's NodeImage has none), so that
//! `kubectl wait --for=condition=ImagesReady nodeimage/NAME` works and the readiness taint
//! has one state to follow in both modes. The server writes them; a node may not.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::job_condition::ConditionStatus;
use crate::string_enum::open_string_enum;

/// The annotation that makes an ImagePullJob required for the readiness of the nodes it
/// targets: `"true"` (any other value is not).
pub const REQUIRED_FOR_READINESS: &str = "prepull.io/required-for-readiness";

open_string_enum! {
    /// Condition types a NodeImage reports.
    pub enum NodeImageConditionType {
        /// Every ImagePullJob required for readiness (annotation
        /// `prepull.io/required-for-readiness: "true"`) that targets this node has succeeded
        /// here.
        ImagesReady = "ImagesReady",
    }
}

/// Reasons of the ImagesReady condition.
pub mod reason {
    /// True: no required job targets the node.
    pub const NO_REQUIRED_IMAGES: &str = "NoRequiredImages";
    /// True: every required job targeting the node succeeded there.
    pub const REQUIRED_IMAGES_PULLED: &str = "RequiredImagesPulled";
    /// False: some required job has not finished on the node yet.
    pub const REQUIRED_IMAGES_PULLING: &str = "RequiredImagesPulling";
    /// False: a required job failed on the node.
    pub const REQUIRED_IMAGE_FAILED: &str = "RequiredImageFailed";
}

/// One observation about a node's images, in the usual Kubernetes condition shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["type", "status"]))]
pub struct NodeImageCondition {
    /// Condition type: ImagesReady.
    #[serde(rename = "type", default)]
    pub type_: NodeImageConditionType,

    /// True, False or Unknown.
    #[serde(default)]
    pub status: ConditionStatus,

    /// Machine-readable, CamelCase reason for the last transition: NoRequiredImages,
    /// RequiredImagesPulled, RequiredImagesPulling or RequiredImageFailed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,

    /// Human-readable details: the required jobs still pulling, or which failed and why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,

    /// When the condition last changed status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

impl NodeImageCondition {
    /// Whether this says the same as `other`, times aside.
    pub fn same_as(&self, other: &NodeImageCondition) -> bool {
        self.type_ == other.type_
            && self.status == other.status
            && self.reason == other.reason
            && self.message == other.message
    }
}
