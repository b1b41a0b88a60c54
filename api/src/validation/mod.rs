//! Server-side validation of the three kinds (OpenKruise's webhooks, as field errors).
//!
//! Each kind module has `validate_create`, `validate_update` (new against stored) and
//! `validate_status_update` (for the status subresource); [`Validate`] bundles them for code
//! that is generic over the kind. Validation expects defaulted objects ([`crate::defaults`]):
//! fields that have defaults are reported as Required when missing. An empty result means
//! valid; otherwise the server answers `422 Invalid` with these errors
//! ([`crate::field_error::invalid_status_message`]).

pub mod image_list_pull_job;
pub mod image_pull_job;
pub mod job_template;
pub mod node_image;

use crate::field_error::{FieldError, FieldPath};
use crate::group::KruiseResource;
use crate::image_list_pull_job::ImageListPullJob;
use crate::image_pull_job::ImagePullJob;
use crate::node_image::NodeImage;

/// The validation entry points of a kind.
pub trait Validate: KruiseResource {
    /// Errors in an object about to be created.
    fn validate_create(&self) -> Vec<FieldError>;
    /// Errors in an update of the stored `old` object to `self`.
    fn validate_update(&self, old: &Self) -> Vec<FieldError>;
    /// Errors in a status-subresource update of `old` to `self`.
    fn validate_status_update(&self, old: &Self) -> Vec<FieldError>;
}

macro_rules! impl_validate {
    ($ty:ty, $module:ident) => {
        impl Validate for $ty {
            fn validate_create(&self) -> Vec<FieldError> {
                $module::validate_create(self)
            }
            fn validate_update(&self, old: &Self) -> Vec<FieldError> {
                $module::validate_update(self, old)
            }
            fn validate_status_update(&self, old: &Self) -> Vec<FieldError> {
                $module::validate_status_update(self, old)
            }
        }
    };
}

impl_validate!(ImagePullJob, image_pull_job);
impl_validate!(ImageListPullJob, image_list_pull_job);
impl_validate!(NodeImage, node_image);

const NON_NEGATIVE: &str = "must be greater than or equal to 0";
const POSITIVE: &str = "must be greater than 0";

/// `Invalid` unless `value >= 0`.
fn check_non_negative(errors: &mut Vec<FieldError>, path: &FieldPath, value: i64) {
    if value < 0 {
        errors.push(FieldError::invalid(path, value, NON_NEGATIVE));
    }
}

/// `Invalid` unless `value > 0`.
fn check_positive(errors: &mut Vec<FieldError>, path: &FieldPath, value: i64) {
    if value <= 0 {
        errors.push(FieldError::invalid(path, value, POSITIVE));
    }
}
