//! Server-side defaulting, applied on create and on update before validation.
//!
//! Every `apply_defaults` only fills what is missing, so applying it twice changes nothing
//! (idempotent); values a client set are never overwritten. The crate reads no clock: the
//! caller passes `now` for NodeImage tag creation times.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::image_list_pull_job::ImageListPullJob;
use crate::image_pull_job::ImagePullJob;
use crate::job_template::{
    CompletionPolicyType, ImagePullJobTemplate, ImagePullPolicy, PullPolicy,
};
use crate::node_image::{ImageTagPullPolicy, NodeImage};

/// Default seconds per pull attempt, for jobs and NodeImage tags.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 600;
/// Default retries after the first attempt, for jobs and NodeImage tags.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 3;
/// Default number of nodes a job pulls on at once.
pub const DEFAULT_PARALLELISM: i32 = 1;

impl ImagePullJobTemplate {
    /// Fills `completionPolicy.type` (Always), each missing piece of `pullPolicy`
    /// (timeoutSeconds 600, backoffLimit 3), `imagePullPolicy` (IfNotPresent) and
    /// `parallelism` (1). Idempotent.
    pub fn apply_defaults(&mut self) {
        self.completion_policy
            .type_
            .get_or_insert(CompletionPolicyType::Always);
        let pull_policy = self.pull_policy.get_or_insert_with(PullPolicy::default);
        pull_policy
            .timeout_seconds
            .get_or_insert(DEFAULT_TIMEOUT_SECONDS);
        pull_policy
            .backoff_limit
            .get_or_insert(DEFAULT_BACKOFF_LIMIT);
        self.image_pull_policy
            .get_or_insert(ImagePullPolicy::IfNotPresent);
        self.parallelism
            .get_or_insert(IntOrString::Int(DEFAULT_PARALLELISM));
    }
}

impl ImagePullJob {
    /// Applies the template defaults (see [`ImagePullJobTemplate::apply_defaults`]).
    /// Idempotent.
    pub fn apply_defaults(&mut self) {
        self.spec.template.apply_defaults();
    }
}

impl ImageListPullJob {
    /// Applies the template defaults (see [`ImagePullJobTemplate::apply_defaults`]).
    /// Idempotent.
    pub fn apply_defaults(&mut self) {
        self.spec.template.apply_defaults();
    }
}

impl NodeImage {
    /// For every tag: `createdAt` = `now` if missing, `pullPolicy.timeoutSeconds` 600 and
    /// `pullPolicy.backoffLimit` 3 if missing; then sorts the tag lists of spec and status by
    /// tag ([`NodeImage::sort_tags`]). `ttlSecondsAfterFinished` has no default: validation
    /// requires it. Idempotent.
    pub fn apply_defaults(&mut self, now: &Time) {
        for tag in self
            .spec
            .images
            .values_mut()
            .flat_map(|image| image.tags.iter_mut())
        {
            tag.created_at.get_or_insert_with(|| now.clone());
            let policy = tag
                .pull_policy
                .get_or_insert_with(ImageTagPullPolicy::default);
            policy
                .timeout_seconds
                .get_or_insert(DEFAULT_TIMEOUT_SECONDS);
            policy.backoff_limit.get_or_insert(DEFAULT_BACKOFF_LIMIT);
        }
        self.sort_tags();
    }

    /// Sorts every tag list in spec and status by tag (stable, so equal tags keep their order).
    pub fn sort_tags(&mut self) {
        for image in self.spec.images.values_mut() {
            image.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        }
        if let Some(status) = &mut self.status {
            for image in status.image_statuses.values_mut() {
                image.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
            }
        }
    }
}
