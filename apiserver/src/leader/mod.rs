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
//! overwriting the new leader's. On etcd, moreover, the scheduler writes through a store
//! fenced by the term ([`Term::fence`], [`fencing`]): each write transaction also requires
//! the leader key to be bound to this term's lease, so even a leader frozen past its lease
//! (that has not noticed yet) cannot write once another could lead. Cluster mode's Lease lives
//! in kube-apiserver, not in the store, so there only the first two hold: the overlap is
//! bounded by the renew deadline plus the scheduler's stop time, under the lease duration.

pub mod always;
pub mod etcd;
pub mod fencing;
pub mod runner;

use prepull_storage::etcd::LeaderFence;
use tokio_util::sync::CancellationToken;

/// One term of leadership.
#[derive(Debug)]
pub struct Term {
    /// Cancelled when the term ends (see [`Election::acquire`]).
    pub lost: CancellationToken,
    /// What the store can check the term by, where the election lives in the store (etcd).
    pub fence: Option<LeaderFence>,
}

/// A way for replicas to agree on one leader.
#[async_trait::async_trait]
pub trait Election: Send + Sync + std::fmt::Debug + 'static {
    /// Who this replica is (the lease holder identity).
    fn identity(&self) -> &str;
    /// Campaigns until this replica leads (Some) or `stop` is cancelled (None). While leading,
    /// the implementation renews in the background; the returned token is cancelled when
    /// leadership is lost (renewal failed past the deadline, lease taken) or `stop` is cancelled,
    /// and on `stop` the lease is released so another replica can take over at once.
    async fn acquire(&self, stop: &CancellationToken) -> Option<CancellationToken>;

    /// [`Election::acquire`], with the term's fence where the election has one.
    async fn acquire_term(&self, stop: &CancellationToken) -> Option<Term> {
        let lost = self.acquire(stop).await?;
        Some(Term { lost, fence: None })
    }
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
