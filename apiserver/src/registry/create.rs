//! Create: the write pipeline, then a storage create; generated names are retried.

use prepull_api::ApiVersion;
use prepull_storage::StorageError;
use serde_json::Value;

use super::Written;
use super::errors;
use super::generate_name::MAX_ATTEMPTS;
use super::managed_fields::Recording;
use super::object::Object;
use super::params::{Body, WriteParams};
use super::read_revision::ReadRevision;
use super::store::ResourceStore;
use super::write_guard::{Unguarded, WriteGuard};
use super::write_pipeline::{BodyOrigin, WriteRequest};
use crate::http::status::ApiError;

/// Where a body came from and how its managedFields are decided.
#[derive(Clone, Copy, Debug)]
pub(super) struct How {
    pub origin: BodyOrigin,
    pub recording: Recording,
}

impl ResourceStore {
    /// Creates an object from `body`, received through `version` in `namespace` (the URL's).
    ///
    /// The server sets uid, creationTimestamp, generation 1, the name from `generateName`
    /// (retrying up to 8 names on collisions) and the empty status; defaults and validation
    /// apply. With `dry_run` nothing is stored and the object comes back without a
    /// resourceVersion. Errors: 400 (malformed body, strict field validation), 403 (feature
    /// gate), 409 (AlreadyExists), 422 (validation).
    pub async fn create(
        &self,
        namespace: Option<&str>,
        body: Body,
        version: ApiVersion,
        params: &WriteParams,
    ) -> Result<Written, ApiError> {
        self.create_checked(namespace, body, version, params, &Unguarded)
            .await
    }

    /// [`create`](Self::create), with `guard` asked about the admitted object's name before
    /// anything is stored (the requester-dependent admission, such as
    /// [`node_restriction`](crate::auth::node_restriction)); its error is returned as it is.
    pub async fn create_checked(
        &self,
        namespace: Option<&str>,
        body: Body,
        version: ApiVersion,
        params: &WriteParams,
        guard: &dyn WriteGuard,
    ) -> Result<Written, ApiError> {
        self.check_writable()?;
        let how = How {
            origin: BodyOrigin::Request,
            recording: Recording::Update,
        };
        self.create_as(namespace, body, version, params, how, guard)
            .await
    }

    /// Creates an object whose body came from `how.origin`, recording managedFields as
    /// `how.recording` says (server-side apply creates through here).
    pub(super) async fn create_as(
        &self,
        namespace: Option<&str>,
        body: Body,
        version: ApiVersion,
        params: &WriteParams,
        how: How,
        guard: &dyn WriteGuard,
    ) -> Result<Written, ApiError> {
        let namespace = self.scope(namespace);
        let manager = params.manager();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = self.clock.now_time();
            let request = WriteRequest {
                body: &body,
                origin: how.origin,
                version,
                namespace,
                name: None,
                field_validation: params.field_validation,
                manager: &manager,
                now: &now,
                recording: how.recording,
            };
            let admitted = self.admission.admit_create(&request)?;
            guard.may_create(&admitted.name)?;
            let key = self.key(namespace, &admitted.name);
            match self.store_new(&key, admitted.object, params.dry_run).await {
                Ok(object) => {
                    return Ok(Written {
                        object,
                        created: true,
                        warnings: admitted.warnings,
                    });
                }
                Err(StorageError::AlreadyExists { .. }) if admitted.name_generated => {
                    if attempt < MAX_ATTEMPTS {
                        continue;
                    }
                    return Err(errors::generate_name_conflict(self.kind, &admitted.name));
                }
                Err(StorageError::AlreadyExists { .. }) => {
                    return Err(self.already_exists(namespace, &admitted.name).await);
                }
                Err(err) => return Err(self.storage_error(err, &admitted.name)),
            }
        }
    }

    /// Writes a new object, or (dry run) checks that it could be written.
    async fn store_new(
        &self,
        key: &str,
        value: Value,
        dry_run: bool,
    ) -> Result<Object, StorageError> {
        if dry_run {
            return match self.source.storage().get(key).await {
                Ok(_) => Err(StorageError::AlreadyExists { key: key.into() }),
                Err(StorageError::NotFound { .. }) => Ok(Object::new(value, None)),
                Err(err) => Err(err),
            };
        }
        let bytes = serde_json::to_vec(&value).expect("JSON values serialize");
        let kv = self.source.storage().create(key, bytes.into()).await?;
        Ok(Object::new(value, Some(kv.mod_revision)))
    }

    /// AlreadyExists, saying so when the existing object is only waiting for finalizers.
    async fn already_exists(&self, namespace: Option<&str>, name: &str) -> ApiError {
        let deleting = match self.read(namespace, name, ReadRevision::Latest).await {
            Ok((_, existing)) => existing
                .value()
                .pointer("/metadata/deletionTimestamp")
                .is_some(),
            Err(_) => false,
        };
        if deleting {
            errors::already_exists_deleting(self.kind, name)
        } else {
            ApiError::already_exists(&errors::subject(self.kind, name))
        }
    }
}
