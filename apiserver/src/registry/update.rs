//! Update (PUT) and the read-modify-write loop it shares with patch.

use prepull_api::ApiVersion;
use prepull_storage::StorageError;
use serde_json::Value;

use super::Written;
use super::create::How;
use super::errors;
use super::managed_fields::Recording;
use super::object::{Object, clear_resource_version};
use super::params::{Body, Subresource, WriteParams};
use super::read_revision::ReadRevision;
use super::store::ResourceStore;
use super::write_guard::{Unguarded, WriteGuard};
use super::write_pipeline::{BodyOrigin, WriteRequest};
use crate::http::status::ApiError;

/// How many times a write re-reads the object after losing a compare-and-swap to a concurrent
/// writer. An update whose body names a resourceVersion stops at the first re-read (409);
/// a patch re-applies itself to the new state.
const MAX_ATTEMPTS: usize = 16;

/// The object a write addresses, and through which version and subresource.
#[derive(Clone, Copy, Debug)]
pub(super) struct Target<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub version: ApiVersion,
    pub subresource: Subresource,
}

impl ResourceStore {
    /// Replaces object `name` with `body` (PUT), through the main resource or `/status`.
    ///
    /// The body must carry the resourceVersion it was read at (422 when missing, 409 when
    /// stale); updates never create (404). Through the main resource status is kept from the
    /// stored object and generation grows when the spec changed; through `/status` only status
    /// changes. An update removing the last finalizer of an object being deleted deletes it.
    /// A write that changes nothing is not stored (the resourceVersion stays).
    pub async fn update(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: Body,
        version: ApiVersion,
        subresource: Subresource,
        params: &WriteParams,
    ) -> Result<Written, ApiError> {
        self.update_checked(
            namespace,
            name,
            body,
            version,
            subresource,
            params,
            &Unguarded,
        )
        .await
    }

    /// [`update`](Self::update), with `guard` asked before the result is stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_checked(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: Body,
        version: ApiVersion,
        subresource: Subresource,
        params: &WriteParams,
        guard: &dyn WriteGuard,
    ) -> Result<Written, ApiError> {
        self.check_writable()?;
        let target = Target {
            namespace,
            name,
            version,
            subresource,
        };
        let how = How {
            origin: BodyOrigin::Request,
            recording: Recording::Update,
        };
        self.write_existing(&target, params, how, guard, |_| Ok(body.clone()))
            .await
    }

    /// Reads object `name`, builds the new body from it with `next_body`, runs the write
    /// pipeline, asks `guard`, and writes with compare-and-swap, starting over (bounded) when
    /// another write won the race.
    pub(super) async fn write_existing<F>(
        &self,
        target: &Target<'_>,
        params: &WriteParams,
        how: How,
        guard: &dyn WriteGuard,
        mut next_body: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Object) -> Result<Body, ApiError>,
    {
        let Target {
            namespace,
            name,
            version,
            subresource,
        } = *target;
        let namespace = self.scope(namespace);
        let key = self.key(namespace, name);
        let manager = params.manager();
        for attempt in 0..MAX_ATTEMPTS {
            // The first attempt works on the watch cache's copy without asking the backend how
            // far it is (kube-apiserver's GuaranteedUpdate does the same with its cached
            // object): the compare-and-swap on the object's revision refuses a stale copy.
            // What could only be concluded from that copy (an error, a write that changes
            // nothing, a dry run) is concluded again from a consistent read.
            let optimistic = attempt == 0 && !params.dry_run;
            let read = if optimistic {
                ReadRevision::Any
            } else {
                ReadRevision::Latest
            };
            let prepared = async {
                let (kv, stored) = self.read(namespace, name, read).await?;
                let body = next_body(&stored)?;
                let now = self.clock.now_time();
                let request = WriteRequest {
                    body: &body,
                    origin: how.origin,
                    version,
                    namespace,
                    name: Some(name),
                    field_validation: params.field_validation,
                    manager: &manager,
                    now: &now,
                    recording: how.recording,
                };
                let admitted =
                    self.admission
                        .admit_update(&request, stored.value(), subresource)?;
                guard.may_update(name, subresource, stored.value(), &admitted.object)?;
                Ok::<_, ApiError>((kv, stored, admitted))
            }
            .await;
            let (kv, stored, admitted) = match prepared {
                Ok(prepared) => prepared,
                Err(_) if optimistic => continue,
                Err(err) => return Err(err),
            };
            let written = |object| Written {
                object,
                created: false,
                warnings: admitted.warnings.clone(),
            };
            let mut new = admitted.object;
            if finalizers_done(&new, stored.value()) {
                if !params.dry_run {
                    match self
                        .source
                        .storage()
                        .delete(&key, Some(kv.mod_revision))
                        .await
                    {
                        Ok(_) | Err(StorageError::NotFound { .. }) => {}
                        Err(StorageError::Conflict { .. }) => continue,
                        Err(err) => return Err(self.storage_error(err, name)),
                    }
                }
                return Ok(written(Object::new(new, None)));
            }
            if new == *stored.value() {
                if optimistic {
                    continue;
                }
                return Ok(written(stored));
            }
            if params.dry_run {
                return Ok(written(Object::new(new, None)));
            }
            clear_resource_version(&mut new);
            let bytes = serde_json::to_vec(&new).expect("JSON values serialize");
            match self
                .source
                .storage()
                .update(&key, bytes.into(), kv.mod_revision)
                .await
            {
                Ok(kv) => return Ok(written(Object::new(new, Some(kv.mod_revision)))),
                Err(StorageError::Conflict { .. }) => continue,
                Err(err) => return Err(self.storage_error(err, name)),
            }
        }
        Err(ApiError::conflict(
            &errors::subject(self.kind, name),
            ApiError::STALE_OBJECT,
        ))
    }
}

/// kube-apiserver's `ShouldDeleteDuringUpdate`: the update leaves no finalizer on an object
/// whose deletion was requested without a grace period.
fn finalizers_done(new: &Value, old: &Value) -> bool {
    let no_finalizers = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    let deleting = old
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let grace = old
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    no_finalizers && deleting && grace == 0
}
