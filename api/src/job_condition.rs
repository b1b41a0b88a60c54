//! Conditions on ImagePullJob status (ours, additive), so that
//! `kubectl wait --for=condition=Complete imagepulljob/NAME` works.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::string_enum::open_string_enum;

open_string_enum! {
    /// Condition types a job reports.
    pub enum JobConditionType {
        /// The job finished and every target node pulled the image.
        Complete = "Complete",
        /// The job finished with at least one node failing, or hit its deadline.
        Failed = "Failed",
    }
}

open_string_enum! {
    /// Whether a condition holds, as in every Kubernetes condition.
    pub enum ConditionStatus {
        /// The condition holds.
        True = "True",
        /// The condition does not hold.
        False = "False",
        /// The controller cannot tell.
        Unknown = "Unknown",
    }
}

/// One observation about a job, in the usual Kubernetes condition shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["type", "status"]))]
pub struct JobCondition {
    /// Condition type: Complete or Failed.
    #[serde(rename = "type", default)]
    pub type_: JobConditionType,

    /// True, False or Unknown.
    #[serde(default)]
    pub status: ConditionStatus,

    /// Machine-readable, CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,

    /// Human-readable details about the last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,

    /// When the condition last changed status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}
