//! Registry tests on the real embedded store in a temporary directory: every rule of the
//! write pipeline both ways, reads, paging and watches. Tests of reads and watches run twice:
//! once reading the store directly, once through the watch cache.

mod apply;
mod create;
mod delete;
mod list;
mod patch;
mod strategic_merge;
mod update;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use prepull_api::{ApiVersion, GROUP, Kind};
use prepull_storage::Revision;
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::keys::resource_prefix;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{Object, Registry, RegistryOptions, ResourceStore, WriteParams, Written};
use crate::http::status::ApiError;
use crate::registry::ManualClock;

/// The instant the test clock starts at (2026-01-02T03:04:05Z).
pub(super) const START_SECOND: i64 = 1_767_323_045;

/// A registry over a fresh embedded store, read directly or through the watch cache.
pub(super) struct Fixture {
    pub registry: Registry,
    pub clock: Arc<ManualClock>,
    pub storage: Arc<EmbeddedStore>,
    pub cache: Option<Arc<WatchCache>>,
    _dir: TempDir,
}

impl Fixture {
    /// Reads go to the embedded store.
    pub fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    /// Reads go to the embedded store; `configure` adjusts the registry options.
    pub fn with(configure: impl FnOnce(&mut RegistryOptions)) -> Fixture {
        let (dir, storage) = open_store();
        let (clock, options) = options(configure);
        Fixture {
            registry: Registry::new(storage.clone(), options),
            clock,
            storage,
            cache: None,
            _dir: dir,
        }
    }

    /// Reads go to a loaded watch cache over the embedded store.
    pub async fn cached() -> Fixture {
        let (dir, storage) = open_store();
        let (clock, options) = options(|_| {});
        let prefixes = Kind::ALL
            .into_iter()
            .map(|kind| resource_prefix(GROUP, kind.info().plural, None))
            .collect();
        let cache = WatchCache::new(storage.clone(), prefixes, CacheOptions::default());
        let cache = Arc::new(cache.expect("cache options are valid"));
        assert!(
            cache.wait_until_ready(Duration::from_secs(10)).await,
            "the cache loads"
        );
        Fixture {
            registry: Registry::with_watch_cache(cache.clone(), options),
            clock,
            storage,
            cache: Some(cache),
            _dir: dir,
        }
    }

    /// One fixture per read path, for tests that must hold whichever way reads go.
    pub async fn both() -> [Fixture; 2] {
        [Fixture::new(), Fixture::cached().await]
    }

    /// Which way reads go, for assertion messages.
    pub fn reads(&self) -> &'static str {
        if self.cache.is_some() {
            "through the watch cache"
        } else {
            "from the store"
        }
    }

    /// Forgets history up to `revision` in the store and in the cache.
    pub async fn compact(&self, revision: Revision) {
        self.storage.compact(revision).await.expect("compaction");
        if let Some(cache) = &self.cache {
            cache.compact_history(revision);
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
    written.object.value()
}

fn open_store() -> (TempDir, Arc<EmbeddedStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default());
    (dir, Arc::new(store.expect("embedded store opens")))
}

fn options(configure: impl FnOnce(&mut RegistryOptions)) -> (Arc<ManualClock>, RegistryOptions) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(START_SECOND).unwrap(),
    ));
    let mut options = RegistryOptions {
        clock: clock.clone(),
        ..RegistryOptions::default()
    };
    configure(&mut options);
    (clock, options)
}
