//! Server-side apply (`application/apply-patch+yaml`): a manager sends the fields it has an
//! opinion about; the server merges them into the object, records the manager's ownership in
//! `metadata.managedFields` (operation `Apply`), refuses changes to fields other managers own
//! (409 naming each field and manager, unless `force`), removes fields the manager stopped
//! applying that nobody else owns, and creates the object when it does not exist.
//!
//! The rules are in [`ownership`], the merge in [`merge`], the client-side apply upgrade in
//! [`csa_upgrade`]; this file runs them inside the
//! store's read-modify-write loop, and the result goes through the write pipeline like any
//! patch (strict decoding, defaults, validation), keeping the managedFields computed here.
//!
//! Objects written by client-side `kubectl apply` (manager `kubectl-client-side-apply`, the
//! `last-applied-configuration` annotation) are upgraded as kube-apiserver does it
//! ([`csa_upgrade`]); kubectl then moves the old manager's fields to its apply manager with a
//! JSON patch of `metadata.managedFields`, which any patch here accepts.

mod csa_upgrade;
mod merge;
pub(super) mod ownership;

use prepull_api::versions::present_value;
use serde_json::Value;

use super::Written;
use super::create::How;
use super::errors;
use super::managed_fields::Recording;
use super::params::{Body, Subresource, WriteParams};
use super::schema_node::SchemaNode;
use super::store::ResourceStore;
use super::update::Target;
use super::write_guard::WriteGuard;
use super::write_pipeline::BodyOrigin;
use crate::http::status::ApiError;
use ownership::Applier;

impl ResourceStore {
    /// Applies `config` (the parsed apply patch) to the `target` object through the main
    /// resource or `/status`, as manager `params.field_manager` (required: 422 without it), taking
    /// conflicting fields when `params.force`. A missing object is created from `config`
    /// (main resource only; `/status` of a missing object is 404); `guard` is asked about
    /// either. Errors: 400 for a config that is not an object or carries managedFields, 409
    /// with `FieldManagerConflict` causes for conflicts, and whatever a patch or create of
    /// the result would answer.
    pub(super) async fn apply(
        &self,
        target: &Target<'_>,
        config: &Value,
        params: &WriteParams,
        guard: &dyn WriteGuard,
    ) -> Result<Written, ApiError> {
        let Target {
            namespace,
            name,
            version,
            subresource,
        } = *target;
        self.check_writable()?;
        let manager = params
            .field_manager
            .as_deref()
            .filter(|m| !m.is_empty())
            .ok_or_else(errors::apply_needs_field_manager)?;
        check_config(config)?;
        let applier = Applier {
            manager,
            api_version: version.api_version(),
            subresource,
            force: params.force,
            schema: SchemaNode::root(self.kind, version),
        };
        let how = How {
            origin: BodyOrigin::Patch,
            recording: Recording::AsGiven,
        };
        let kind = self.kind;
        let clock = self.clock.clone();
        let updated = self
            .write_existing(target, params, how, guard, |current| {
                let mut live = (*current.value()).clone();
                present_value(kind, &mut live, version);
                let applied = ownership::apply(&live, config, &applier, &clock.now_time())
                    .map_err(|c| errors::apply_conflict(c.message(), c.0))?;
                Ok(Body::Value(applied))
            })
            .await;
        match updated {
            Err(err) if err.code.as_u16() == 404 && subresource == Subresource::Main => {
                let mut object = ownership::apply(
                    &Value::Object(Default::default()),
                    config,
                    &applier,
                    &self.clock.now_time(),
                )
                .map_err(|c| errors::apply_conflict(c.message(), c.0))?;
                name_from_url(&mut object, namespace, name);
                self.create_as(namespace, Body::Value(object), version, params, how, guard)
                    .await
            }
            other => other,
        }
    }
}

/// An apply configuration must be an object, with an object (or no) `metadata`, and must not
/// carry managedFields.
pub(super) fn check_config(config: &Value) -> Result<(), ApiError> {
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding patch: an apply configuration must be an object",
        ));
    }
    // Found by fuzzing: a `metadata` string left the manager's entry nowhere to go, and a
    // create then replaced it with the URL's name, so the object owned nothing.
    if config
        .get("metadata")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(ApiError::bad_request(
            "error decoding patch: metadata must be an object",
        ));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    Ok(())
}

/// A created object takes its name (and namespace) from the URL when the configuration
/// leaves them out.
fn name_from_url(object: &mut Value, namespace: Option<&str>, name: &str) {
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        object["metadata"] = serde_json::json!({"name": name});
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = ns.into();
        }
        return;
    };
    meta.entry("name").or_insert_with(|| name.into());
    if let Some(ns) = namespace {
        meta.entry("namespace").or_insert_with(|| ns.into());
    }
}
