//! Test bed for Prepull: starts the real programs its users run (etcd, kube-apiserver, ...) on
//! loopback ports in temp dirs, and stops them when dropped.
//!
//! Start reading at [`Etcd`] (the simplest service), then [`eventually`] (how tests wait for
//! something to happen without sleeping).

mod etcd;
mod eventually;
mod ports;

pub use etcd::{ETCD_BINARY, Etcd};
pub use eventually::{assert_eventually, eventually};
pub use ports::free_loopback_port;
