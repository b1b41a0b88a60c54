//! The storage conformance suite against a real etcd, each case with its own etcd.

mod conformance;
mod etcd_fixture;

use etcd_fixture::backend::EtcdBackend;

conformance_suite!(EtcdBackend);
