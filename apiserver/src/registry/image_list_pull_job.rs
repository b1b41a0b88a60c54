//! ImageListPullJob's strategy: template defaults, behind `ImagePullJobGate`; the spec of a
//! completed list is frozen like a completed ImagePullJob's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::field_error::FieldError;
use prepull_api::validation::Validate;
use prepull_api::{ImageListPullJob, ImageListPullJobSpec, ImageListPullJobStatus};

use super::image_pull_job::frozen_after_completion;
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

    /// The usual update rules, and: once the list has completed (`status.completionTime`),
    /// its spec may change only in `completionPolicy.ttlSecondsAfterFinished`.
    fn validate_update(new: &ImageListPullJob, old: &ImageListPullJob) -> Vec<FieldError> {
        let mut errors = new.validate_update(old);
        let completed = old
            .status
            .as_ref()
            .is_some_and(|s| s.completion_time.is_some());
        errors.extend(frozen_after_completion(
            completed,
            &new.spec,
            &old.spec,
            |spec| &mut spec.template,
        ));
        errors
    }
}
