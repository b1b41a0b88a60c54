//! NodeImage's strategy: per-tag defaults whose `createdAt` is the request's time, tag lists
//! kept sorted. Never gated.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::{NodeImage, NodeImageSpec, NodeImageStatus};

use super::strategy::Strategy;

/// How the registry treats NodeImages.
#[derive(Debug)]
pub struct NodeImageStrategy;

impl Strategy for NodeImageStrategy {
    type Object = NodeImage;
    type Spec = NodeImageSpec;
    type Status = NodeImageStatus;

    fn spec(object: &NodeImage) -> &NodeImageSpec {
        &object.spec
    }

    fn status_mut(object: &mut NodeImage) -> &mut Option<NodeImageStatus> {
        &mut object.status
    }

    fn apply_defaults(object: &mut NodeImage, now: &Time) {
        object.apply_defaults(now);
    }
}
