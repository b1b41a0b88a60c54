//! The registry: one generic resource store serving every kind of `apps.kruise.io`, driven by
//! a small per-kind [`Strategy`] (the design of k8s.io/apiserver's generic registry, which
//! sample-apiserver uses).
//!
//! Start reading at [`Registry`] (one [`ResourceStore`] per kind), then [`ResourceStore`]'s
//! verbs: reads in `store.rs`, `list.rs` and `watch.rs`; writes in `create.rs`, `update.rs`
//! and `delete.rs`, which run bodies through the fixed-order [`write_pipeline`] and then write
//! with compare-and-swap. Objects cross this boundary as [`Object`]: the stored JSON (the
//! preferred version) with its resourceVersion, parsed and serialized once; the HTTP layer
//! presents them in the requested version. Every storage failure becomes an API error in
//! `errors.rs`.

// `ApiError` (the crate's one error type, in `http::status`) is large; failures are the cold
// path here, so it is returned unboxed like everywhere else in the crate.
#![allow(clippy::result_large_err)]

mod apply;
mod clock;
mod create;
mod delete;
mod errors;
mod field_set;
#[doc(hidden)]
pub mod fuzzing;
mod generate_name;
mod image_list_pull_job;
mod image_pull_job;
mod list;
mod managed_fields;
mod node_image;
mod object;
mod params;
mod patch;
mod patch_budget;
mod read_revision;
mod schema_node;
mod selectors;
mod source;
mod store;
mod strategic_merge;
mod strategy;
mod update;
mod watch;
mod write_guard;
mod write_pipeline;

use std::sync::Arc;

use prepull_api::Kind;
use prepull_storage::Storage;
use prepull_storage::cache::WatchCache;

pub use clock::{Clock, ManualClock, SystemClock};
pub use image_list_pull_job::ImageListPullJobStrategy;
pub use image_pull_job::ImagePullJobStrategy;
pub use node_image::NodeImageStrategy;
pub use object::{Deleted, Object, ObjectList, Written};
pub use params::{
    Body, DeleteParams, FieldValidation, InvalidFieldValidation, InvalidPropagationPolicy,
    ListParams, Patch, Preconditions, PropagationPolicy, Subresource, WatchParams, WriteParams,
};
pub use read_revision::ReadRevision;
use source::Source;
pub use store::ResourceStore;
pub use strategy::{FeatureGate, Strategy};
pub use watch::{WatchEventType, WatchItem, WatchItems};
pub use write_guard::{Unguarded, WriteGuard};

/// Which feature gates are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    /// `ImagePullJobGate` (default on, as OpenKruise's chart sets it): when off, ImagePullJob
    /// and ImageListPullJob cannot be created or changed (403).
    pub image_pull_job_gate: bool,
}

impl Default for FeatureGates {
    fn default() -> FeatureGates {
        FeatureGates {
            image_pull_job_gate: true,
        }
    }
}

impl FeatureGates {
    /// Whether `gate` is on.
    pub fn enabled(&self, gate: FeatureGate) -> bool {
        match gate {
            FeatureGate::ImagePullJobGate => self.image_pull_job_gate,
        }
    }
}

/// How the registry behaves.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    pub feature_gates: FeatureGates,
    /// Whether a garbage collector runs against this server (kube-apiserver's
    /// `--enable-garbage-collector`). When true, deletes with `propagationPolicy`
    /// Orphan/Foreground add the `orphan`/`foregroundDeletion` finalizers for it to process;
    /// when false (standalone mode, where nothing would ever remove them) they do not.
    pub garbage_collection: bool,
    /// Where timestamps come from.
    pub clock: Arc<dyn Clock>,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            feature_gates: FeatureGates::default(),
            garbage_collection: true,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Every kind's store.
#[derive(Debug)]
pub struct Registry {
    stores: Vec<ResourceStore>,
    /// What the stores were made of, for [`Registry::writing_to`].
    source: Source,
    options: RegistryOptions,
}

impl Registry {
    /// The registry over a storage backend: every read is a consistent read of the backend
    /// (`resourceVersion=0` too), and BOOKMARKs carry the revision of the last change a watch
    /// delivered.
    pub fn new(storage: Arc<dyn Storage>, options: RegistryOptions) -> Registry {
        Registry::over(Source::backend(storage), &options)
    }

    /// The registry over the watch cache: reads honour `resourceVersion` freshness from
    /// memory, watches come from the cache's history, and BOOKMARKs carry the cache's
    /// progress. Writes go through the cache to its backend.
    pub fn with_watch_cache(cache: Arc<WatchCache>, options: RegistryOptions) -> Registry {
        Registry::over(Source::cache(cache), &options)
    }

    fn over(source: Source, options: &RegistryOptions) -> Registry {
        // One line per kind: its strategy.
        let stores = vec![
            ResourceStore::new::<ImagePullJobStrategy>(source.clone(), options),
            ResourceStore::new::<ImageListPullJobStrategy>(source.clone(), options),
            ResourceStore::new::<NodeImageStrategy>(source.clone(), options),
        ];
        Registry {
            stores,
            source,
            options: options.clone(),
        }
    }

    /// The same registry (same reads, watches, strategies) with every write going to
    /// `writes`, a view of the same data: the scheduler writes through a store fenced by its
    /// leadership, so a deposed leader's writes are refused by the store itself.
    pub fn writing_to(&self, writes: Arc<dyn Storage>) -> Registry {
        Registry::over(self.source.writing_to(writes), &self.options)
    }

    /// The store of `kind`.
    pub fn store(&self, kind: Kind) -> &ResourceStore {
        self.stores
            .iter()
            .find(|store| store.kind() == kind)
            .expect("every kind is registered")
    }
}

#[cfg(test)]
mod tests;
