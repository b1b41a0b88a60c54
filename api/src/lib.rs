//! `prepull-api`: the `apps.kruise.io` ImagePullJob, ImageListPullJob and NodeImage API, with
//! no IO. JSON-identical to OpenKruise v1.9.
//!
//! Start reading at [`group`] (group, versions, kinds), then the kind types
//! ([`image_pull_job`], [`image_list_pull_job`], [`node_image`], and the shared
//! [`job_template`]). What the API server does with an incoming object, in order:
//! [`strict`] decoding against [`schema`], [`versions`] carry-over, [`defaults`],
//! [`validation`], then [`columns`] for `kubectl get` tables.
//!
//! Building blocks shared with other Kubernetes-style APIs: [`field_error`] (422 field
//! errors and paths), [`object_meta`] and [`label_selector`] validation, and [`reference`](mod@reference)
//! (docker image references).

mod go_json;
mod string_enum;

pub mod field_error;
pub mod label_selector;
pub mod object_meta;
pub mod reference;

pub mod columns;
pub mod defaults;
pub mod group;
pub mod image_list_pull_job;
pub mod image_pull_job;
pub mod job_condition;
pub mod job_template;
pub mod node_image;
pub mod node_image_condition;
pub mod schema;
pub mod strict;
pub mod validation;
pub mod versions;

#[doc(hidden)]
pub mod fuzzing;

pub use group::{ApiVersion, GROUP, Kind, KindInfo, KruiseResource, VERSIONS};
pub use image_list_pull_job::{
    ImageListPullJob, ImageListPullJobList, ImageListPullJobSpec, ImageListPullJobStatus,
};
pub use image_pull_job::{ImagePullJob, ImagePullJobList, ImagePullJobSpec, ImagePullJobStatus};
pub use node_image::{NodeImage, NodeImageList, NodeImageSpec, NodeImageStatus};
