//! [`ResourceStore`]: the generic store of one kind. This file holds the store itself, its
//! key layout and reads; the verbs live next to it (`create.rs`, `update.rs`, `delete.rs`,
//! `list.rs`, `watch.rs`), each an `impl ResourceStore` block.

use std::fmt;
use std::sync::Arc;

use prepull_api::{GROUP, Kind};
use prepull_storage::keys::{object_key, resource_prefix};
use prepull_storage::{KeyValue, Revision, StorageError};

use super::clock::Clock;
use super::errors::{self, During};
use super::object::Object;
use super::read_revision::ReadRevision;
use super::source::Source;
use super::strategy::{FeatureGate, Strategy};
use super::write_pipeline::{Admission, Pipeline};
use super::{FeatureGates, RegistryOptions};
use crate::http::status::ApiError;

/// The store of one kind: get, list, watch, create, update, patch, delete and
/// deletecollection over the storage layer, with the kind's [`Strategy`] deciding what differs
/// between kinds.
///
/// Namespaces: pass the URL's namespace for namespaced kinds (`None` lists or watches every
/// namespace) and `None` for cluster-scoped kinds.
pub struct ResourceStore {
    pub(super) kind: Kind,
    pub(super) admission: Box<dyn Admission>,
    pub(super) source: Source,
    pub(super) clock: Arc<dyn Clock>,
    /// Whether writes are allowed (the kind's feature gate, if any, is on).
    disabled_by: Option<FeatureGate>,
    /// Whether `propagationPolicy` Orphan/Foreground add the garbage collector's finalizers.
    pub(super) garbage_collection: bool,
}

impl fmt::Debug for ResourceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceStore")
            .field("kind", &self.kind)
            .field("disabled_by", &self.disabled_by)
            .finish_non_exhaustive()
    }
}

impl ResourceStore {
    /// The store of `S`'s kind.
    pub(super) fn new<S: Strategy>(source: Source, options: &RegistryOptions) -> ResourceStore {
        let admission: Box<dyn Admission> = Box::new(Pipeline::<S>::new());
        let gates: &FeatureGates = &options.feature_gates;
        let disabled_by = admission
            .feature_gate()
            .filter(|gate| !gates.enabled(*gate));
        ResourceStore {
            kind: admission.kind(),
            admission,
            source,
            clock: options.clock.clone(),
            disabled_by,
            garbage_collection: options.garbage_collection,
        }
    }

    /// The kind this store serves.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The storage's latest revision (for BOOKMARK events and list revisions).
    pub async fn current_revision(&self) -> Result<Revision, ApiError> {
        self.source
            .storage()
            .current_revision()
            .await
            .map_err(|e| self.storage_error(e, ""))
    }

    /// One object. `rv`: [`ReadRevision::Latest`] reads the latest state, [`ReadRevision::Any`]
    /// whatever the watch cache holds, [`ReadRevision::NotOlderThan`] a state at least that
    /// new (504 "Too large resource version" when the store has not reached it).
    pub async fn get(
        &self,
        namespace: Option<&str>,
        name: &str,
        rv: ReadRevision,
    ) -> Result<Object, ApiError> {
        let (_, object) = self.read(namespace, name, rv).await?;
        Ok(object)
    }

    /// 403 when the kind's feature gate is off.
    pub(super) fn check_writable(&self) -> Result<(), ApiError> {
        match self.disabled_by {
            Some(gate) => Err(errors::feature_gate_disabled(gate.name())),
            None => Ok(()),
        }
    }

    /// The stored state of one object, raw and parsed, as fresh as `rv` asks.
    pub(super) async fn read(
        &self,
        namespace: Option<&str>,
        name: &str,
        rv: ReadRevision,
    ) -> Result<(KeyValue, Object), ApiError> {
        let key = self.key(namespace, name);
        let kv = self
            .source
            .get(&key, rv)
            .await
            .map_err(|e| self.storage_error(e, name))?;
        let object = Object::from_stored(&kv.value, &key, kv.mod_revision)?;
        Ok((kv, object))
    }

    /// Fails with 504 unless the store has reached `revision`.
    pub(super) async fn require_revision(&self, revision: Revision) -> Result<(), ApiError> {
        let current = self.current_revision().await?;
        if revision > current {
            return Err(self.storage_error(
                StorageError::RevisionTooLarge {
                    requested: revision,
                    current,
                },
                "",
            ));
        }
        Ok(())
    }

    pub(super) fn key(&self, namespace: Option<&str>, name: &str) -> String {
        object_key(GROUP, self.kind.info().plural, self.scope(namespace), name)
    }

    pub(super) fn prefix(&self, namespace: Option<&str>) -> String {
        resource_prefix(GROUP, self.kind.info().plural, self.scope(namespace))
    }

    /// The namespace that applies to this kind (none for cluster-scoped kinds).
    pub(super) fn scope<'a>(&self, namespace: Option<&'a str>) -> Option<&'a str> {
        namespace.filter(|ns| self.kind.info().namespaced && !ns.is_empty())
    }

    pub(super) fn storage_error(&self, err: StorageError, name: &str) -> ApiError {
        errors::from_storage(err, &errors::subject(self.kind, name), During::Request)
    }
}
