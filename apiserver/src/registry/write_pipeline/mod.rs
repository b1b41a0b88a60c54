//! The write pipeline: what happens to a body between the request and the storage write, in
//! one fixed order for every kind (sample-apiserver's generic store):
//!
//! 1. [`decode`]: strict decoding per `fieldValidation`; kind, apiVersion, name and namespace
//!    checked against the URL;
//! 2. (updates) the body's `resourceVersion` must be given (422) and current (409);
//!    fields the request's version does not serve are carried over from the stored object;
//! 3. [`prepare`]: server-owned metadata, generation and status rules;
//! 4. the strategy's defaults;
//! 5. the strategy's validation (422 with every cause);
//! 6. managedFields recorded for the writer (or, for server-side apply, stored as computed).
//!
//! The storage write (and dry run, generateName retries, finalizer-driven deletion) is the
//! store's business; this module is pure.

mod decode;
mod prepare;

use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube_core::Resource;
use prepull_api::versions::ServedVersions;
use prepull_api::{ApiVersion, Kind, KruiseResource};
use serde_json::Value;

use super::errors;
use super::managed_fields::{self, Manager, Recording};
use super::params::{Body, FieldValidation, Subresource};
use super::schema_node::SchemaNode;
use super::strategy::{FeatureGate, Strategy};
use crate::http::status::ApiError;

/// Where a body came from; decides how strict-decoding problems are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyOrigin {
    /// A create or update body: problems are 400 Bad Request.
    Request,
    /// The result of applying a patch: problems are 422 Invalid on field `patch`.
    Patch,
}

/// One write, as the pipeline sees it.
#[derive(Debug)]
pub(crate) struct WriteRequest<'a> {
    pub body: &'a Body,
    pub origin: BodyOrigin,
    /// The version of the URL (and so of the body).
    pub version: ApiVersion,
    /// The URL's namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<&'a str>,
    /// The URL's name (updates and patches).
    pub name: Option<&'a str>,
    pub field_validation: FieldValidation,
    /// The managedFields manager.
    pub manager: &'a str,
    /// The request's time.
    pub now: &'a Time,
    /// How managedFields are decided.
    pub recording: Recording,
}

/// A body that passed the pipeline.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The object to store, in the stored form (preferred version), with managedFields
    /// recorded. Updates keep the stored resourceVersion in it; creates have none.
    pub object: Value,
    /// `metadata.name`.
    pub name: String,
    /// Whether the name came from `generateName`.
    pub name_generated: bool,
    /// `Warning` texts for the response.
    pub warnings: Vec<String>,
}

/// The pipeline of one kind, with the kind's type erased so that one store serves every kind.
pub(crate) trait Admission: Send + Sync + fmt::Debug {
    fn kind(&self) -> Kind;

    /// The gate that must be on for writes, if any.
    fn feature_gate(&self) -> Option<FeatureGate>;

    /// Runs a create body through the pipeline.
    fn admit_create(&self, request: &WriteRequest<'_>) -> Result<Admitted, ApiError>;

    /// Runs an update body through the pipeline against the `stored` object (with its
    /// resourceVersion), for the main resource or `/status`.
    fn admit_update(
        &self,
        request: &WriteRequest<'_>,
        stored: &Value,
        subresource: Subresource,
    ) -> Result<Admitted, ApiError>;
}

/// The pipeline for strategy `S`.
pub(crate) struct Pipeline<S>(PhantomData<fn() -> S>);

impl<S> Pipeline<S> {
    pub(crate) fn new() -> Pipeline<S> {
        Pipeline(PhantomData)
    }
}

impl<S> fmt::Debug for Pipeline<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<S>())
    }
}

impl<S: Strategy> Admission for Pipeline<S> {
    fn kind(&self) -> Kind {
        S::Object::KIND
    }

    fn feature_gate(&self) -> Option<FeatureGate> {
        S::FEATURE_GATE
    }

    fn admit_create(&self, request: &WriteRequest<'_>) -> Result<Admitted, ApiError> {
        let decoded = decode::decode::<S::Object>(request)?;
        let mut object = decoded.object;
        let name_generated = prepare::prepare_for_create::<S>(&mut object, request.now)?;
        S::apply_defaults(&mut object, request.now);
        let name = object.meta().name.clone().unwrap_or_default();
        let problems = S::validate_create(&object);
        if !problems.is_empty() {
            return Err(errors::invalid(S::Object::KIND, &name, &problems));
        }
        let object = finish(
            object,
            None,
            decoded.managed_fields,
            request,
            Subresource::Main,
        );
        Ok(Admitted {
            object,
            name,
            name_generated,
            warnings: decoded.warnings,
        })
    }

    fn admit_update(
        &self,
        request: &WriteRequest<'_>,
        stored: &Value,
        subresource: Subresource,
    ) -> Result<Admitted, ApiError> {
        let kind = S::Object::KIND;
        let decoded = decode::decode::<S::Object>(request)?;
        let mut object = decoded.object;
        let old: S::Object = serde_json::from_value(stored.clone()).map_err(|e| {
            errors::corrupt_object(request.name.unwrap_or_default(), &e.to_string())
        })?;
        let name = object.meta().name.clone().unwrap_or_default();
        check_resource_version(kind, &name, &object, &old)?;
        object.keep_unserved_fields(&old, request.version);
        prepare::prepare_for_update::<S>(&mut object, &old, subresource);
        S::apply_defaults(&mut object, request.now);
        let problems = match subresource {
            Subresource::Main => S::validate_update(&object, &old),
            Subresource::Status => S::validate_status_update(&object, &old),
        };
        if !problems.is_empty() {
            return Err(errors::invalid(kind, &name, &problems));
        }
        let object = finish(
            object,
            Some(stored),
            decoded.managed_fields,
            request,
            subresource,
        );
        Ok(Admitted {
            object,
            name,
            name_generated: false,
            warnings: decoded.warnings,
        })
    }
}

/// An update must name the resourceVersion it read (422 otherwise, as kube-apiserver answers
/// for custom resources, which do not allow unconditional updates), and it must be the
/// stored one (409).
fn check_resource_version<T: KruiseResource>(
    kind: Kind,
    name: &str,
    new: &T,
    old: &T,
) -> Result<(), ApiError> {
    let given = new.meta().resource_version.as_deref().unwrap_or_default();
    if given.is_empty() {
        return Err(errors::missing_resource_version(kind, name));
    }
    let given: u64 = given
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {given:?}")))?;
    let stored = old.meta().resource_version.as_deref().unwrap_or_default();
    if stored.parse::<u64>().ok() != Some(given) {
        return Err(ApiError::conflict(
            &errors::subject(kind, name),
            ApiError::STALE_OBJECT,
        ));
    }
    Ok(())
}

/// The stored form of `object`, with managedFields recorded for the request's manager.
fn finish<T: KruiseResource>(
    mut object: T,
    old: Option<&Value>,
    incoming_managed_fields: Option<Value>,
    request: &WriteRequest<'_>,
    subresource: Subresource,
) -> Value {
    object.set_type_meta(ApiVersion::PREFERRED);
    object.meta_mut().managed_fields = None;
    let mut value = serde_json::to_value(&object).expect("API objects serialize");
    if request.recording == Recording::AsGiven {
        let entries = incoming_managed_fields
            .map(managed_fields::entries_of)
            .unwrap_or_default();
        managed_fields::set_entries(&mut value, entries);
        return value;
    }
    let manager = Manager {
        name: request.manager,
        api_version: request.version.api_version(),
        subresource,
        schema: SchemaNode::root(T::KIND, ApiVersion::PREFERRED),
    };
    managed_fields::record_update(
        &mut value,
        old,
        incoming_managed_fields,
        &manager,
        request.now,
    );
    value
}
