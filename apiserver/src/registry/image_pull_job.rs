//! ImagePullJob's strategy: template defaults, behind `ImagePullJobGate`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::{ImagePullJob, ImagePullJobSpec, ImagePullJobStatus};

use super::strategy::{FeatureGate, Strategy};

/// How the registry treats ImagePullJobs.
#[derive(Debug)]
pub struct ImagePullJobStrategy;

impl Strategy for ImagePullJobStrategy {
    type Object = ImagePullJob;
    type Spec = ImagePullJobSpec;
    type Status = ImagePullJobStatus;

    const FEATURE_GATE: Option<FeatureGate> = Some(FeatureGate::ImagePullJobGate);

    fn spec(object: &ImagePullJob) -> &ImagePullJobSpec {
        &object.spec
    }

    fn status_mut(object: &mut ImagePullJob) -> &mut Option<ImagePullJobStatus> {
        &mut object.status
    }

    fn apply_defaults(object: &mut ImagePullJob, _now: &Time) {
        object.apply_defaults();
    }
}
