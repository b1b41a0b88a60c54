//! The connection to the main cluster in cluster mode (kube-rs): everything the API server
//! learns from or tells the kube-apiserver it is aggregated into.
//!
//! Start reading at [`MainCluster::start`]. It runs:
//! - [`node_lifecycle`]: Nodes drive NodeImages (created once Ready plus a delay, labels
//!   mirrored, deleted with the Node, virtual-kubelet Nodes skipped);
//! - [`pod_selections`]: Pod watches for exactly the active `podSelector` jobs;
//! - [`job_events`]: Events for jobs' transitions (recorded by the leading replica);
//! - [`readiness_taints`]: the `prepull.io/images-not-ready` taint leaves a Node once its
//!   required images are in (the leading replica);
//!
//! and offers:
//! - [`ClusterNodes`], the scheduler's node inventory ([`MainCluster::node_source`]);
//! - [`LeaseElection`], which replica runs the scheduler ([`MainCluster::election`]);
//! - the NodeImage `credentials` subresource ([`credentials_endpoint`]), which hands a node's
//!   agent the pull secrets of its tasks ([`pull_credentials`]) without copying Secrets
//!   ([`MainCluster::routes`]);
//! - [`EventRecorder`] for Events on jobs and NodeImages ([`MainCluster::events`]).

pub mod cluster_nodes;
pub mod credentials_endpoint;
pub mod events;
pub mod job_events;
pub mod lease_election;
pub mod node_identity;
pub mod node_lifecycle;
pub mod pod_selections;
pub mod pull_credentials;
pub mod readiness_taints;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use prepull_api::Kind;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use cluster_nodes::ClusterNodes;
pub use events::EventRecorder;
pub use lease_election::{LeaseElection, LeaseTiming};

use crate::leader::Election;
use crate::registry::Registry;
use crate::scheduler::informer;
use crate::scheduler::node_source::NodeSource;
use job_events::JobEvents;
use pod_selections::PodSelections;
use pull_credentials::PullCredentials;

/// How the main-cluster connection behaves.
#[derive(Clone, Debug)]
pub struct MainClusterOptions {
    /// How long a Node must have been Ready before it gets its NodeImage (OpenKruise: 30 s,
    /// time for the node's agent to start).
    pub node_ready_delay: Duration,
    /// This replica's name: the Lease holder identity and the Events' reporting instance.
    pub identity: String,
    /// The namespace of the scheduler's Lease.
    pub lease_namespace: String,
    /// The name of the scheduler's Lease.
    pub lease_name: String,
    /// The election's timing.
    pub lease_timing: LeaseTiming,
}

impl Default for MainClusterOptions {
    /// 30 s Ready delay; identity `<hostname>_<uuid>` (client-go's convention), or
    /// `$POD_NAME_<uuid>` when set; Lease `prepull-system/prepull-scheduler`; client-go timing.
    fn default() -> MainClusterOptions {
        let host = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "prepull-apiserver".to_owned());
        MainClusterOptions {
            node_ready_delay: Duration::from_secs(30),
            identity: format!("{host}_{}", uuid::Uuid::new_v4()),
            lease_namespace: "prepull-system".to_owned(),
            lease_name: "prepull-scheduler".to_owned(),
            lease_timing: LeaseTiming::default(),
        }
    }
}

/// The running connection; its workers stop on [`MainCluster::shutdown`] or when dropped.
#[derive(Debug)]
pub struct MainCluster {
    registry: Arc<Registry>,
    nodes: Arc<ClusterNodes>,
    election: LeaseElection,
    events: EventRecorder,
    credentials: PullCredentials,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl MainCluster {
    /// Starts watching the main cluster through `client` (Nodes; Pods for active
    /// `podSelector` jobs) and keeping `registry`'s NodeImages in step with its Nodes. Must be
    /// called inside a Tokio runtime. Whether this replica also runs the scheduler is up to the
    /// caller, through [`MainCluster::election`].
    pub fn start(
        client: kube::Client,
        registry: Arc<Registry>,
        options: MainClusterOptions,
    ) -> MainCluster {
        let stop = CancellationToken::new();
        let (changes, _) = broadcast::channel(cluster_nodes::CHANGE_BUFFER);
        let pods = Arc::new(PodSelections::new(
            client.clone(),
            changes.clone(),
            stop.clone(),
        ));
        let nodes = Arc::new(ClusterNodes::new(pods.clone(), changes));
        let events = EventRecorder::new(client.clone(), &options.identity);
        let election = LeaseElection::new(
            client.clone(),
            &options.lease_namespace,
            &options.lease_name,
            &options.identity,
            options.lease_timing,
        );
        let credentials = PullCredentials::new(client.clone(), events.clone());
        let mut tasks = JoinSet::new();
        tasks.spawn(readiness_taints::run(
            client.clone(),
            registry.clone(),
            events.clone(),
            election.clone(),
            stop.clone(),
        ));
        tasks.spawn(node_lifecycle::run(
            client,
            registry.clone(),
            nodes.clone(),
            events.clone(),
            options.node_ready_delay,
            stop.clone(),
        ));
        let (mut job_events, record_job_events) =
            JobEvents::start(registry.clone(), events.clone(), election.clone());
        tasks.spawn(record_job_events);
        tasks.spawn(informer::run(
            registry.clone(),
            Kind::ImagePullJob,
            stop.clone(),
            move |event| {
                pods.observe(&event);
                job_events.observe(&event);
            },
        ));
        MainCluster {
            registry,
            nodes,
            election,
            events,
            credentials,
            stop,
            tasks,
        }
    }

    /// The scheduler's node inventory: the main cluster's Nodes that have a NodeImage, and
    /// the nodes of `podSelector` Pods. Hand it to
    /// [`Scheduler::start_with_nodes`](crate::scheduler::Scheduler::start_with_nodes).
    pub fn node_source(&self) -> Arc<dyn NodeSource> {
        self.nodes.clone()
    }

    /// The scheduler's leader election (a Lease in the main cluster).
    pub fn election(&self) -> Arc<dyn Election> {
        Arc::new(self.election.clone())
    }

    /// Events on jobs and NodeImages in the main cluster.
    pub fn events(&self) -> EventRecorder {
        self.events.clone()
    }

    /// The routes this connection serves (the NodeImage `credentials` subresource), to merge
    /// into the server's router before its filters are layered on.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        credentials_endpoint::routes(self.registry.clone(), self.credentials.clone())
    }

    /// Stops every watch and worker and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for MainCluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
