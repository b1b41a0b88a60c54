//! Registry tests on the real embedded store in a temporary directory: every rule of the
//! write pipeline both ways, reads, paging and watches.

mod create;
mod delete;
mod list;
mod patch;
mod update;
mod watch;

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use prepull_api::{ApiVersion, Kind};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{
    Body, ManualClock, Object, Registry, RegistryOptions, ResourceStore, WriteParams, Written,
};
use crate::http::status::ApiError;

/// The instant the test clock starts at (2026-01-02T03:04:05Z).
pub(super) const START_SECOND: i64 = 1_767_323_045;

/// A registry over a fresh embedded store.
pub(super) struct Fixture {
    pub registry: Registry,
    pub clock: Arc<ManualClock>,
    pub storage: Arc<EmbeddedStore>,
    _dir: TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(|_| {}, EmbeddedOptions::default())
    }

    pub fn with(configure: impl FnOnce(&mut RegistryOptions), storage: EmbeddedOptions) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = Arc::new(EmbeddedStore::open(dir.path(), storage).expect("embedded store"));
        let clock = Arc::new(ManualClock::new(
            Timestamp::from_second(START_SECOND).unwrap(),
        ));
        let mut options = RegistryOptions {
            clock: clock.clone(),
            ..RegistryOptions::default()
        };
        configure(&mut options);
        Fixture {
            registry: Registry::new(storage.clone(), options),
            clock,
            storage,
            _dir: dir,
        }
    }

    pub fn jobs(&self) -> &ResourceStore {
        self.registry.store(Kind::ImagePullJob)
    }

    pub fn node_images(&self) -> &ResourceStore {
        self.registry.store(Kind::NodeImage)
    }

    /// Creates ImagePullJob `name` in namespace `default` (image nginx) and returns it.
    pub async fn create_job(&self, name: &str) -> Object {
        self.jobs()
            .create(Some("default"), job(name).into(), V1ALPHA1, &writer())
            .await
            .expect("create job")
            .object
    }
}

pub(super) const V1ALPHA1: ApiVersion = ApiVersion::V1alpha1;

/// An ImagePullJob body named `name`.
pub(super) fn job(name: &str) -> Value {
    json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ImagePullJob",
        "metadata": {"name": name},
        "spec": {"image": "nginx:1.25"}
    })
}

/// A NodeImage body named `name` pulling `nginx:1.25`.
pub(super) fn node_image(name: &str) -> Value {
    json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "NodeImage",
        "metadata": {"name": name},
        "spec": {"images": {"nginx": {"tags": [
            {"tag": "1.25", "pullPolicy": {"ttlSecondsAfterFinished": 300}}
        ]}}}
    })
}

/// Write options of a kubectl-like client.
pub(super) fn writer() -> WriteParams {
    WriteParams {
        user_agent: Some("kubectl/v1.34.0 (linux/amd64) kubernetes/abcdef".into()),
        ..WriteParams::default()
    }
}

/// The status code of a failed call.
pub(super) fn code<T: std::fmt::Debug>(result: Result<T, ApiError>) -> u16 {
    result.expect_err("the call should fail").code.as_u16()
}

/// The written object's value.
pub(super) fn value(written: &Written) -> &Value {
    &written.object.value
}
