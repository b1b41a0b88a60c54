//! The storage conformance suite against a real etcd that serves clients only over TLS and
//! only with a client certificate (`--client-cert-auth`), each case with its own etcd.

mod conformance;
mod etcd_fixture;

use etcd_fixture::backend::EtcdTlsBackend;

conformance_suite!(EtcdTlsBackend);
