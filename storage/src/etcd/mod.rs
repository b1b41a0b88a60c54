//! The etcd backend: [`EtcdStore`] implements [`crate::Storage`] over etcd's v3 API, with keys
//! laid out like kube-apiserver's under a root prefix (`/registry` by default).
//!
//! Start at `store.rs` (the mapping of each call to etcd requests), then `watch.rs` and `list.rs`;
//! every etcd or gRPC failure becomes a [`crate::StorageError`] in `error_translation.rs`.
//! `fence.rs` makes a clone of the store whose writes hold only while a leader key is held.
//! `tls.rs` loads the CA and client certificate every etcd client of the process uses;
//! `tls_diagnosis.rs` names the reason when etcd refuses them.

mod config;
mod error_translation;
mod fence;
mod keyspace;
mod list;
mod store;
mod tls;
mod tls_diagnosis;
mod watch;

pub use config::{DEFAULT_PREFIX, EtcdConfig};
pub use fence::LeaderFence;
pub use store::EtcdStore;
pub use tls::{EtcdTls, EtcdTlsError, EtcdTlsFiles};
