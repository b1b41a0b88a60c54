//! ImagePullJob's strategy: template defaults, behind `ImagePullJobGate`; the spec of a
//! completed job is frozen (OpenKruise silently ignores such changes, #1386).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::field_error::{FieldError, FieldPath};
use prepull_api::job_template::ImagePullJobTemplate;
use prepull_api::validation::Validate;
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

    /// The usual update rules, and: once the job has completed (`status.completionTime`),
    /// its spec may change only in `completionPolicy.ttlSecondsAfterFinished`.
    fn validate_update(new: &ImagePullJob, old: &ImagePullJob) -> Vec<FieldError> {
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

/// A completed job's spec may change only in `completionPolicy.ttlSecondsAfterFinished`
/// (how long the finished job stays); anything else is refused with a Forbidden error on
/// `spec` that says so. `template` reaches the fields shared by both job kinds.
pub(super) fn frozen_after_completion<S: Clone + PartialEq>(
    completed: bool,
    new: &S,
    old: &S,
    template: impl Fn(&mut S) -> &mut ImagePullJobTemplate,
) -> Option<FieldError> {
    if !completed || new == old {
        return None;
    }
    let without_ttl = |spec: &S| {
        let mut spec = spec.clone();
        template(&mut spec)
            .completion_policy
            .ttl_seconds_after_finished = None;
        spec
    };
    (without_ttl(new) != without_ttl(old)).then(|| {
        FieldError::forbidden(
            &FieldPath::new("spec"),
            "the job has completed and its spec can no longer change (only \
             spec.completionPolicy.ttlSecondsAfterFinished may); create a new job instead",
        )
    })
}
