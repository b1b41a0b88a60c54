//! Patch: JSON patch (RFC 6902), merge patch (RFC 7386) and strategic merge patch, applied to
//! the object as presented in the request's version, then run through the same pipeline as an
//! update. A patch that leaves the resourceVersion alone is re-applied when a concurrent write
//! wins the race. Server-side apply patches go to [`super::apply`].

use prepull_api::ApiVersion;
use prepull_api::versions::present_value;
use serde_json::Value;

use super::Written;
use super::create::How;
use super::errors;
use super::managed_fields::Recording;
use super::params::{Body, Patch, Subresource, WriteParams};
use super::patch_budget;
use super::schema_node::SchemaNode;
use super::store::ResourceStore;
use super::strategic_merge::{self, StrategicMergeError};
use super::update::Target;
use super::write_guard::{Unguarded, WriteGuard};
use super::write_pipeline::BodyOrigin;
use crate::http::status::ApiError;

/// Largest object a JSON patch may produce: what storage would accept.
const MAX_PATCHED_OBJECT_BYTES: usize = prepull_storage::MAX_VALUE_BYTES;

/// Most operations one JSON patch may hold (kube-apiserver's limit).
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// A patch document, parsed once per request.
pub(super) enum PatchDocument {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value),
}

impl PatchDocument {
    pub(super) fn parse(patch: &Patch) -> Result<PatchDocument, ApiError> {
        match patch {
            Patch::Json(bytes) => {
                let operations: json_patch::Patch = serde_json::from_slice(bytes)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                if operations.0.len() > MAX_JSON_PATCH_OPERATIONS {
                    return Err(errors::too_many_patch_operations(
                        MAX_JSON_PATCH_OPERATIONS,
                        operations.0.len(),
                    ));
                }
                Ok(PatchDocument::Json(operations))
            }
            Patch::Merge(bytes) => serde_json::from_slice(bytes)
                .map(PatchDocument::Merge)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}"))),
            Patch::Strategic(bytes) => match serde_json::from_slice(bytes) {
                Ok(value @ Value::Object(_)) => Ok(PatchDocument::Strategic(value)),
                Ok(_) => Err(ApiError::bad_request(
                    "error decoding patch: a strategic merge patch must be a JSON object",
                )),
                Err(e) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
            },
            Patch::Apply(_) => unreachable!("apply patches are not parsed here"),
        }
    }

    pub(super) fn apply(&self, document: &mut Value, schema: SchemaNode) -> Result<(), ApiError> {
        match self {
            PatchDocument::Json(operations) => {
                patch_budget::apply_bounded(document, &operations.0, MAX_PATCHED_OBJECT_BYTES)
            }
            PatchDocument::Merge(patch) => {
                json_patch::merge(document, patch);
                Ok(())
            }
            PatchDocument::Strategic(patch) => {
                *document =
                    strategic_merge::apply(document, patch, schema).map_err(|e| match e {
                        StrategicMergeError::Malformed(m) => ApiError::bad_request(m),
                        StrategicMergeError::NotApplicable(m) => errors::patch_not_applicable(m),
                    })?;
                Ok(())
            }
        }
    }
}

impl ResourceStore {
    /// Patches object `name` through the main resource or `/status`.
    ///
    /// The patch applies to the stored object presented in `version`; the result is then an
    /// update body (same rules as [`ResourceStore::update`]). A result naming another object,
    /// namespace, kind or apiVersion is refused (400 for name and namespace, 422 for kind and
    /// apiVersion); strict-decoding problems in the result are 422 on field `patch`, as
    /// kube-apiserver reports them for patches. Malformed patches are 400, JSON patches over
    /// 10000 operations or growing the object past what storage holds 413, operations that do
    /// not apply 422. Apply patches are server-side
    /// apply ([`ResourceStore::apply`]).
    pub async fn patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        version: ApiVersion,
        subresource: Subresource,
        params: &WriteParams,
    ) -> Result<Written, ApiError> {
        self.patch_checked(
            namespace,
            name,
            patch,
            version,
            subresource,
            params,
            &Unguarded,
        )
        .await
    }

    /// [`patch`](Self::patch), with `guard` asked before the result is stored (and about the
    /// name of an object an apply patch would create).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_checked(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        version: ApiVersion,
        subresource: Subresource,
        params: &WriteParams,
        guard: &dyn WriteGuard,
    ) -> Result<Written, ApiError> {
        if let Patch::Apply(config) = patch {
            let target = Target {
                namespace,
                name,
                version,
                subresource,
            };
            return self.apply(&target, config, params, guard).await;
        }
        if params.force {
            return Err(errors::force_needs_apply());
        }
        self.check_writable()?;
        let document = PatchDocument::parse(patch)?;
        let schema = SchemaNode::root(self.kind, version);
        let kind = self.kind;
        let target = Target {
            namespace,
            name,
            version,
            subresource,
        };
        let how = How {
            origin: BodyOrigin::Patch,
            recording: Recording::Update,
        };
        self.write_existing(&target, params, how, guard, |current| {
            let mut patched = (*current.value()).clone();
            present_value(kind, &mut patched, version);
            document.apply(&mut patched, schema)?;
            Ok(Body::Value(patched))
        })
        .await
    }
}
