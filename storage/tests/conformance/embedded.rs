//! The embedded (redb) backend under test, each instance in its own temporary directory.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::{Revision, Storage};
use tempfile::TempDir;

use super::Backend;

/// A fresh embedded store in a temporary directory.
pub struct EmbeddedBackend {
    dir: TempDir,
    store: Option<Arc<EmbeddedStore>>,
}

impl EmbeddedBackend {
    fn embedded(&self) -> &Arc<EmbeddedStore> {
        self.store.as_ref().expect("the store is open")
    }

    fn open(dir: &TempDir) -> Arc<EmbeddedStore> {
        Arc::new(
            EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
                .expect("open the embedded store"),
        )
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Self::open(&dir);
        EmbeddedBackend {
            dir,
            store: Some(store),
        }
    }

    fn store(&self) -> Arc<dyn Storage> {
        self.embedded().clone()
    }

    async fn write_raw(&self, key: &str, raw: &[u8]) {
        self.embedded()
            .write_unsealed(key, Bytes::copy_from_slice(raw))
            .await
            .expect("raw write");
    }

    async fn compact(&self, revision: Revision) {
        self.embedded().compact(revision).await.expect("compaction");
    }

    async fn restart(&mut self) -> bool {
        let store = self.store.take().expect("the store is open");
        let store =
            Arc::try_unwrap(store).expect("the case dropped its store handles before restarting");
        // Dropping waits for the writer thread and closes the file.
        drop(store);
        self.store = Some(Self::open(&self.dir));
        true
    }
}
