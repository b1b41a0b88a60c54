//! etcd as a conformance-suite backend: a fresh etcd per instance (they start in a fraction of
//! a second, and one case's compaction must not expire another case's reads).

use std::sync::Arc;

use async_trait::async_trait;
use prepull_storage::{Revision, Storage};

use super::{EtcdFixture, ROOT};
use crate::conformance::Backend;

#[derive(Debug)]
pub struct EtcdBackend {
    pub fixture: EtcdFixture,
}

#[async_trait]
impl Backend for EtcdBackend {
    async fn new() -> Self {
        EtcdBackend {
            fixture: EtcdFixture::start().await,
        }
    }

    fn store(&self) -> Arc<dyn Storage> {
        Arc::new(self.fixture.store.clone())
    }

    async fn write_raw(&self, key: &str, raw: &[u8]) {
        let mut client = self.fixture.raw_client().await;
        client
            .put(format!("{ROOT}{key}"), raw, None)
            .await
            .expect("raw put");
    }

    async fn compact(&self, revision: Revision) {
        self.fixture
            .store
            .compact(revision)
            .await
            .expect("compaction");
    }

    async fn restart(&mut self) -> bool {
        self.fixture.restart().await;
        true
    }
}
