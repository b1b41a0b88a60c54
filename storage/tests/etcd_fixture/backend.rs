//! etcd as a conformance-suite backend: a fresh etcd per instance (they start in a fraction of
//! a second, and one case's compaction must not expire another case's reads), plain
//! ([`EtcdBackend`]) or TLS-only with client certificates ([`EtcdTlsBackend`]).

use std::sync::Arc;

use async_trait::async_trait;
use prepull_storage::{Revision, Storage};

use super::{EtcdFixture, ROOT};
use crate::conformance::Backend;

/// etcd over plain connections.
pub type EtcdBackend = EtcdBackendOver<false>;
/// etcd over TLS, the store presenting a client certificate (`--client-cert-auth`).
pub type EtcdTlsBackend = EtcdBackendOver<true>;

#[derive(Debug)]
pub struct EtcdBackendOver<const TLS: bool> {
    pub fixture: EtcdFixture,
}

#[async_trait]
impl<const TLS: bool> Backend for EtcdBackendOver<TLS> {
    async fn new() -> Self {
        let fixture = if TLS {
            EtcdFixture::start_tls().await
        } else {
            EtcdFixture::start().await
        };
        EtcdBackendOver { fixture }
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
