//! A [`Storage`] decorator recording the latency of every call in
//! `prepull_storage_request_duration_seconds{operation,backend}`.
//!
//! Wrap the backend (below the watch cache) to see what etcd or the embedded store costs, and
//! optionally the cache itself under another `backend` name to see what requests pay.
//! A watch is timed until its stream is established, not for its life.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use prepull_storage::{
    KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream,
};

use super::Metrics;

/// `inner`, timed.
pub struct MeteredStorage {
    inner: Arc<dyn Storage>,
    metrics: Metrics,
    backend: &'static str,
}

impl std::fmt::Debug for MeteredStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredStorage")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl MeteredStorage {
    /// Records `inner`'s calls under the label `backend` (`etcd`, `embedded`, `cache`).
    pub fn new(inner: Arc<dyn Storage>, metrics: Metrics, backend: &'static str) -> MeteredStorage {
        MeteredStorage {
            inner,
            metrics,
            backend,
        }
    }
}

#[async_trait]
impl Storage for MeteredStorage {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.metrics
            .time_storage("create", self.backend, self.inner.create(key, value))
            .await
    }

    async fn get(&self, key: &str) -> Result<KeyValue, StorageError> {
        self.metrics
            .time_storage("get", self.backend, self.inner.get(key))
            .await
    }

    async fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StorageError> {
        self.metrics
            .time_storage("list", self.backend, self.inner.list(prefix, options))
            .await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StorageError> {
        self.metrics
            .time_storage(
                "update",
                self.backend,
                self.inner.update(key, value, expected),
            )
            .await
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        self.metrics
            .time_storage("delete", self.backend, self.inner.delete(key, expected))
            .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
        self.metrics
            .time_storage("watch", self.backend, self.inner.watch(prefix, after))
            .await
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.metrics
            .time_storage(
                "current_revision",
                self.backend,
                self.inner.current_revision(),
            )
            .await
    }

    /// Forwarded untimed: a readiness probe, not a storage call.
    async fn check_writable(&self) -> Result<(), StorageError> {
        self.inner.check_writable().await
    }
}
