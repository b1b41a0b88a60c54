//! A real etcd with an [`EtcdStore`] connected to it, for the etcd backend's tests; plain, or
//! TLS-only with client certificates ([`EtcdFixture::start_tls`]).

#![allow(dead_code)]

pub mod backend;

use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use prepull_storage::etcd::{EtcdConfig, EtcdStore, EtcdTls, EtcdTlsFiles};
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
        EtcdFixture::connect(Etcd::start().await.expect("etcd starts")).await
    }

    /// Starts a fresh TLS-only etcd that requires client certificates, and connects a store
    /// with the CA and client certificate it trusts.
    pub async fn start_tls() -> EtcdFixture {
        EtcdFixture::connect(Etcd::start_tls().await.expect("TLS etcd starts")).await
    }

    async fn connect(etcd: Etcd) -> EtcdFixture {
        let store = EtcdStore::connect(config(&etcd))
            .await
            .unwrap_or_else(|err| panic!("store connects: {err}; etcd log:\n{}", etcd.logs()));
        EtcdFixture { etcd, store }
    }

    /// A plain etcd-client on the same etcd (with the same TLS), bypassing our layer.
    pub async fn raw_client(&self) -> Client {
        let options = match tls(&self.etcd) {
            Some(tls) => tls.apply(ConnectOptions::new(), Duration::from_secs(1)),
            None => ConnectOptions::new(),
        };
        tokio::time::timeout(
            Duration::from_secs(5),
            Client::connect([self.etcd.endpoint()], Some(options)),
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

/// The store configuration for `etcd`, with root prefix [`ROOT`] (and its TLS, if any).
pub fn config(etcd: &Etcd) -> EtcdConfig {
    EtcdConfig::new([etcd.endpoint()])
        .with_prefix(ROOT)
        .with_tls(tls(etcd))
}

/// The files of a TLS etcd's CA and client certificate, as a user would pass them.
pub fn tls_files(etcd: &Etcd) -> EtcdTlsFiles {
    match etcd.tls() {
        Some(tls) => EtcdTlsFiles {
            ca_file: Some(tls.ca_file.clone()),
            cert_file: Some(tls.client.cert.clone()),
            key_file: Some(tls.client.key.clone()),
        },
        None => EtcdTlsFiles::default(),
    }
}

fn tls(etcd: &Etcd) -> Option<EtcdTls> {
    EtcdTls::for_endpoints(&[etcd.endpoint()], &tls_files(etcd)).expect("valid TLS files")
}
