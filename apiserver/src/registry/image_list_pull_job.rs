//! ImageListPullJob's strategy: template defaults, behind `ImagePullJobGate`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::{ImageListPullJob, ImageListPullJobSpec, ImageListPullJobStatus};

use super::strategy::{FeatureGate, Strategy};

/// How the registry treats ImageListPullJobs.
#[derive(Debug)]
pub struct ImageListPullJobStrategy;

impl Strategy for ImageListPullJobStrategy {
    type Object = ImageListPullJob;
    type Spec = ImageListPullJobSpec;
    type Status = ImageListPullJobStatus;

    const FEATURE_GATE: Option<FeatureGate> = Some(FeatureGate::ImagePullJobGate);

    fn spec(object: &ImageListPullJob) -> &ImageListPullJobSpec {
        &object.spec
    }

    fn status_mut(object: &mut ImageListPullJob) -> &mut Option<ImageListPullJobStatus> {
        &mut object.status
    }

    fn apply_defaults(object: &mut ImageListPullJob, _now: &Time) {
        object.apply_defaults();
    }
}
