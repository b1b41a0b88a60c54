//! The per-kind half of the registry: what differs between ImagePullJob, ImageListPullJob and
//! NodeImage. Everything else (the order of the write steps, metadata rules, storage, watch)
//! is the generic store's.
//!
//! Adding a kind = its types and validation in `prepull-api`, a small [`Strategy`]
//! implementation (usually four accessor lines and its defaulting call), and one registration
//! line in [`super::Registry::new`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::field_error::FieldError;
use prepull_api::validation::Validate;
use prepull_api::versions::ServedVersions;

/// A named switch that can turn a kind's writes off (`--feature-gates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeatureGate {
    /// OpenKruise's `ImagePullJobGate`: ImagePullJob and ImageListPullJob writes.
    ImagePullJobGate,
}

impl FeatureGate {
    /// The gate's name on the command line and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FeatureGate::ImagePullJobGate => "ImagePullJobGate",
        }
    }
}

/// How the generic store treats one kind. Methods are associated functions over the typed
/// object; the defaults are what most kinds want.
///
/// The generic store calls them in this fixed order on every write:
/// create: [`Strategy::prepare_for_create`] -> [`Strategy::apply_defaults`] ->
/// [`Strategy::validate_create`];
/// update: status kept or isolated via [`Strategy::status_mut`], generation bumped when
/// [`Strategy::spec`] changed -> [`Strategy::apply_defaults`] -> [`Strategy::validate_update`]
/// (or [`Strategy::validate_status_update`] for `/status`).
pub trait Strategy: Send + Sync + 'static {
    /// The kind's Rust type (its stored form).
    type Object: ServedVersions + Validate + Send + Sync + 'static;
    /// The desired state; a change bumps `metadata.generation`.
    type Spec: PartialEq;
    /// The observed state, written only through the status subresource.
    type Status: Default;

    /// The feature gate that must be on for writes of this kind, if any.
    const FEATURE_GATE: Option<FeatureGate> = None;

    /// The object's spec.
    fn spec(object: &Self::Object) -> &Self::Spec;

    /// The object's status slot.
    fn status_mut(object: &mut Self::Object) -> &mut Option<Self::Status>;

    /// Fills server-side defaults (idempotent; never overwrites what the client set). `now` is
    /// the request's time, for defaults that are timestamps.
    fn apply_defaults(object: &mut Self::Object, now: &Time);

    /// Last changes before a new object is validated. By default the status a client sent is
    /// replaced by the empty status (every counter present and zero), which is what
    /// OpenKruise's webhooks make a new object look like.
    fn prepare_for_create(object: &mut Self::Object) {
        *Self::status_mut(object) = Some(Self::Status::default());
    }

    /// Errors in a new object.
    fn validate_create(object: &Self::Object) -> Vec<FieldError> {
        object.validate_create()
    }

    /// Errors in an update of `old` to `new` through the main resource.
    fn validate_update(new: &Self::Object, old: &Self::Object) -> Vec<FieldError> {
        new.validate_update(old)
    }

    /// Errors in an update of `old` to `new` through `/status`.
    fn validate_status_update(new: &Self::Object, old: &Self::Object) -> Vec<FieldError> {
        new.validate_status_update(old)
    }
}
