//! Leader election: which API server replica runs the job scheduler. Every replica serves
//! reads and writes; only the leader schedules.
//!
//! Start at [`Election`] (the contract), then [`runner::run_scheduler_when_leading`] (acquire,
//! schedule, stop on loss, campaign again). Implementations:
//! - [`etcd::EtcdElection`]: replicas on one etcd race to create one key bound to an etcd
//!   lease (TTL + keepalive); the first wins, the others poll until the key is gone.
//! - [`always::AlwaysLeader`]: the embedded store is owned by one process (file lock), so that
//!   process always leads.
//! - [`crate::main_cluster::LeaseElection`]: cluster mode's coordination.k8s.io Lease.
//!
//! Why a deposed leader cannot clobber: it stops scheduling before its lease can expire on
//! the server (renewal deadline < TTL), and every scheduler write is a compare-and-swap on
//! `resourceVersion`, so a write prepared from a stale read fails with a conflict instead of
//! overwriting the new leader's.

pub mod always;
pub mod etcd;
pub mod runner;

/// A way for replicas to agree on one leader.
#[async_trait::async_trait]
pub trait Election: Send + Sync + std::fmt::Debug + 'static {
    /// Who this replica is (the lease holder identity).
    fn identity(&self) -> &str;
    /// Campaigns until this replica leads (Some) or `stop` is cancelled (None). While leading,
    /// the implementation renews in the background; the returned token is cancelled when
    /// leadership is lost (renewal failed past the deadline, lease taken) or `stop` is cancelled,
    /// and on `stop` the lease is released so another replica can take over at once.
    async fn acquire(
        &self,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Option<tokio_util::sync::CancellationToken>;
}

/// A default identity for this replica: host name and process id, unique among replicas on
/// one machine and readable in logs.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    format!("{host}_{}", std::process::id())
}
