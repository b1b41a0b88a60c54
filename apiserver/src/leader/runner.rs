//! The loop that ties an [`Election`] to the scheduler: campaign, run the scheduler while
//! leading, shut it down when leadership ends, campaign again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Election;
use super::fencing::FencedWrites;
use crate::registry::Registry;
use crate::scheduler::node_source::NodeSource;
use crate::scheduler::{Scheduler, SchedulerOptions};

/// How long a stopping replica waits for its election to release the lease (so another
/// replica can take over at once) before exiting anyway.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the scheduler's workers may take to stop when leadership ends before they are
/// aborted: with the renew deadline, this bounds how long after its last renewal a deposed
/// leader can still write (10 s + 2 s < the 15 s lease).
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// What the scheduler runs with each time this replica leads.
#[derive(Clone, Debug)]
pub struct SchedulerSetup {
    pub options: SchedulerOptions,
    /// The node inventory; `None`: the registered NodeImages (standalone mode).
    pub nodes: Option<Arc<dyn NodeSource>>,
    /// Where a fenced term's writes go (the etcd store); `None`: unfenced.
    pub fencing: Option<FencedWrites>,
}

/// Runs the scheduler over `registry` whenever this replica leads, until `stop` is cancelled.
///
/// `leading` follows the state (true while this replica's scheduler runs); it is the state
/// readiness does not depend on: every replica serves the API whether it leads or not.
/// On loss the scheduler is shut down (its workers stop before another replica can lead,
/// see [`super`]) and the replica campaigns again. On stop the scheduler stops first, then
/// the election releases the lease.
pub async fn run_scheduler_when_leading(
    election: Arc<dyn Election>,
    registry: Arc<Registry>,
    setup: SchedulerSetup,
    stop: CancellationToken,
    leading: watch::Sender<bool>,
) {
    let identity = election.identity().to_owned();
    loop {
        let Some(term) = election.acquire_term(&stop).await else {
            return;
        };
        let registry = match (&term.fence, &setup.fencing) {
            (Some(fence), Some(fencing)) => {
                Arc::new(registry.writing_to(fencing.storage(fence.clone())))
            }
            _ => registry.clone(),
        };
        let fenced = term.fence.is_some() && setup.fencing.is_some();
        tracing::info!(%identity, fenced, "leader election: became leader; starting the scheduler");
        leading.send_replace(true);
        let scheduler = match &setup.nodes {
            Some(nodes) => {
                Scheduler::start_with_nodes(registry.clone(), setup.options.clone(), nodes.clone())
            }
            None => Scheduler::start(registry.clone(), setup.options.clone()),
        };
        tokio::select! {
            () = term.lost.cancelled() => {}
            () = stop.cancelled() => {}
        }
        scheduler.shutdown_within(STOP_WITHIN).await;
        leading.send_replace(false);
        if stop.is_cancelled() {
            let _ = tokio::time::timeout(RELEASE_TIMEOUT, term.lost.cancelled()).await;
            tracing::info!(%identity, "leader election: stopped; the scheduler is down");
            return;
        }
        tracing::warn!(%identity, "leader election: lost leadership; the scheduler is down, campaigning again");
    }
}
