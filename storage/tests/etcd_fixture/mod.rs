//! A real etcd with an [`EtcdStore`] connected to it, for the etcd backend's tests.

#![allow(dead_code)]

pub mod backend;

use std::time::Duration;

use etcd_client::Client;
use prepull_storage::etcd::{EtcdConfig, EtcdStore};
use prepull_testbed::Etcd;

/// Root prefix the tests' stores use, so raw etcd keys are predictable.
pub const ROOT: &str = "/registry";

/// A running etcd and a store on it.
#[derive(Debug)]
pub struct EtcdFixture {
    pub etcd: Etcd,
    pub store: EtcdStore,
}

impl EtcdFixture {
    /// Starts a fresh etcd and connects a store with the default deadlines.
    pub async fn start() -> EtcdFixture {
        let etcd = Etcd::start().await.expect("etcd starts");
        let store = EtcdStore::connect(config(&etcd))
            .await
            .unwrap_or_else(|err| panic!("store connects: {err}; etcd log:\n{}", etcd.logs()));
        EtcdFixture { etcd, store }
    }

    /// A plain etcd-client on the same etcd, bypassing our layer.
    pub async fn raw_client(&self) -> Client {
        tokio::time::timeout(
            Duration::from_secs(5),
            Client::connect([self.etcd.endpoint()], None),
        )
        .await
        .expect("raw client connects in time")
        .expect("raw client connects")
    }

    /// Kills etcd, starts it again on the same data, and connects a new store.
    pub async fn restart(&mut self) {
        self.etcd.start_again().await.expect("etcd restarts");
        self.store = EtcdStore::connect(config(&self.etcd))
            .await
            .expect("store reconnects");
    }
}

/// The store configuration for `etcd`, with root prefix [`ROOT`].
pub fn config(etcd: &Etcd) -> EtcdConfig {
    EtcdConfig::new([etcd.endpoint()]).with_prefix(ROOT)
}
