//! The job scheduler: turns ImagePullJobs into tasks on NodeImages and NodeImage results
//! back into job status. It runs inside the API server as an in-process client: it reads
//! through the registry (served from the watch cache) and writes through the same registry
//! code as HTTP requests, so its writes get the same defaults, validation and
//! resourceVersions as kubectl's.
//!
//! Start reading at [`Scheduler::start`]. Small workers with explicit state:
//! - three [`informer`]s (ImagePullJobs, ImageListPullJobs, NodeImages) list, watch and relist on 410, feeding
//!   the [`cache::Cache`] and its indexes; each change queues only the jobs it affects;
//! - the [`work_queue::WorkQueue`] of job keys (deduplicated, one worker per key at a time,
//!   delayed adds for deadlines and TTLs);
//! - a few reconcile workers running [`reconcile::reconcile`] (ImagePullJobs) or
//!   [`list_job::reconcile`] (ImageListPullJobs) or [`node_cleanup::reconcile`]
//!   (expired and orphaned NodeImage tags) per key.
//!
//! Nodes come from a [`node_source::NodeSource`]: in standalone mode the registered
//! NodeImages, in cluster mode the main cluster's Nodes and Pods
//! ([`Scheduler::start_with_nodes`]).
//!
//! Only the elected replica runs it: [`crate::leader::runner`] starts a [`Scheduler`] when
//! this replica becomes leader and shuts it down when leadership ends.
//!
//! Values from users and nodes are hostile here: arithmetic is checked or saturating
//! ([`checked_time`]; the lint below refuses a plain `+`), a reconcile that fails or panics
//! finishes its queue item and is retried with backoff, and no lock can be poisoned.

#![deny(clippy::arithmetic_side_effects)]

pub mod cache;
pub mod checked_time;
pub mod images_ready;
pub mod informer;
pub mod job_status;
pub mod list_job;
pub mod node_cleanup;
pub mod node_source;
pub mod node_task;
pub mod node_update;
pub mod reconcile;
pub mod registry_budget;
pub mod repull;
pub mod stale_tasks;
pub mod stall_timeout;
pub mod status_write;
pub mod targets;
pub mod work_queue;

use parking_lot::{Mutex, MutexGuard};
use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use prepull_api::Kind;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::registry::{Clock, Object, Registry, WriteParams};
use cache::{Affected, Cache, JobKey};
use informer::InformerEvent;
use node_source::{NodeSource, RegisteredNodes};
use work_queue::WorkQueue;

/// The field manager of the scheduler's writes.
pub const FIELD_MANAGER: &str = "prepull-scheduler";

/// How the scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Reconcile workers (jobs reconciled at the same time).
    pub workers: usize,
    /// Where timestamps (startTime, completionTime, deadlines, TTLs) come from.
    pub clock: Arc<dyn Clock>,
    /// A task the node's agent has not acknowledged this long after the scheduler first saw
    /// it fails ("node has not responded for a long time"). OpenKruise: 10 minutes.
    pub ack_timeout: Duration,
    /// A task still pulling this long past its own activeDeadlineSeconds fails.
    pub deadline_grace: Duration,
    /// How often a Never job pulls its image again on each node. OpenKruise: about 24 hours.
    pub repull_period: Duration,
    /// Added to a tag's `ttlSecondsAfterFinished` on NodeImages (OpenKruise: 300).
    pub tag_ttl_grace_seconds: i32,
    /// Pulls at a time from one registry host, across all jobs ([`registry_budget`]); 0:
    /// unlimited.
    pub max_pulls_per_registry: usize,
}

impl Default for SchedulerOptions {
    fn default() -> SchedulerOptions {
        SchedulerOptions {
            workers: 4,
            clock: Arc::new(crate::registry::SystemClock),
            ack_timeout: Duration::from_secs(10 * 60),
            deadline_grace: Duration::from_secs(10 * 60),
            repull_period: Duration::from_secs(24 * 60 * 60),
            tag_ttl_grace_seconds: node_task::TAG_TTL_GRACE_SECONDS,
            max_pulls_per_registry: 0,
        }
    }
}

/// What every reconcile needs.
#[derive(Debug)]
pub struct Context {
    registry: Arc<Registry>,
    cache: Arc<Mutex<Cache>>,
    queue: WorkQueue<Work>,
    nodes: Arc<dyn NodeSource>,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
    write_params: WriteParams,
    /// Running tasks (node, image, tag, version) not yet acknowledged, and since when.
    unacknowledged: Mutex<HashMap<(String, String, String, i64), Instant>>,
    /// Pull slots per registry host, shared by every job.
    budget: registry_budget::RegistryBudget,
}

impl Context {
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock()
    }

    /// Takes in a NodeImage the scheduler wrote or read, queueing the jobs it affects.
    fn observe_node(&self, object: &Object) {
        let affected = self.cache().put_node(object);
        self.enqueue(affected);
    }

    /// Queues the jobs `keys` (whose turn it is for the registry budget).
    fn wake(&self, keys: Vec<JobKey>) {
        for key in keys {
            self.queue.add(Work::PullJob(key));
        }
    }

    fn enqueue(&self, affected: Affected) {
        if affected.all_jobs {
            for key in self.cache().job_keys() {
                self.queue.add(Work::PullJob(key));
            }
        }
        for key in affected.jobs {
            self.queue.add(Work::PullJob(key));
        }
        for key in affected.lists {
            self.queue.add(Work::ListJob(key));
        }
        for name in affected.nodes {
            self.queue.add(Work::Readiness(name.clone()));
            self.queue.add(Work::Node(name));
        }
        if affected.readiness_of_all {
            images_ready::queue_all(self, images_ready::Trigger::RequiredJob);
        }
    }
}

/// An item of the scheduler's work queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Reconcile this ImagePullJob.
    PullJob(JobKey),
    /// Reconcile this ImageListPullJob.
    ListJob(JobKey),
    /// Clean up this NodeImage's expired and orphaned tags.
    Node(String),
    /// Bring this NodeImage's ImagesReady condition up to date.
    Readiness(String),
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::PullJob(key) => write!(f, "imagepulljob {key}"),
            Work::ListJob(key) => write!(f, "imagelistpulljob {key}"),
            Work::Node(name) => write!(f, "nodeimage {name}"),
            Work::Readiness(name) => write!(f, "nodeimage {name} readiness"),
        }
    }
}

/// The running scheduler; stops when its token is cancelled or it is dropped.
#[derive(Debug)]
pub struct Scheduler {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Scheduler {
    /// Starts the informers, the queue's timer and the reconcile workers over `registry`,
    /// with the registered NodeImages as the nodes (standalone mode). Workers start once every
    /// informer has listed, so no job is judged against an empty inventory.
    pub fn start(registry: Arc<Registry>, options: SchedulerOptions) -> Scheduler {
        let cache = Arc::new(Mutex::new(Cache::default()));
        let nodes: Arc<dyn NodeSource> = Arc::new(RegisteredNodes::new(cache.clone()));
        Scheduler::start_on(registry, options, cache, nodes)
    }

    /// Like [`Scheduler::start`], with the nodes of `nodes` (cluster mode: the main cluster's
    /// Nodes and Pods); its [`NodeSource::changes`] queue the jobs they affect.
    pub fn start_with_nodes(
        registry: Arc<Registry>,
        options: SchedulerOptions,
        nodes: Arc<dyn NodeSource>,
    ) -> Scheduler {
        let cache = Arc::new(Mutex::new(Cache::default()));
        Scheduler::start_on(registry, options, cache, nodes)
    }

    fn start_on(
        registry: Arc<Registry>,
        options: SchedulerOptions,
        cache: Arc<Mutex<Cache>>,
        nodes: Arc<dyn NodeSource>,
    ) -> Scheduler {
        let node_changes = nodes.changes();
        let ctx = Arc::new(Context {
            registry: registry.clone(),
            cache,
            queue: WorkQueue::new(),
            nodes,
            clock: options.clock.clone(),
            options: options.clone(),
            unacknowledged: Mutex::new(HashMap::new()),
            budget: registry_budget::RegistryBudget::new(options.max_pulls_per_registry),
            write_params: WriteParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..WriteParams::default()
            },
        });
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let (synced_tx, synced_rx) = watch::channel(0usize);
        let synced_tx = Arc::new(synced_tx);
        for kind in [Kind::ImagePullJob, Kind::ImageListPullJob, Kind::NodeImage] {
            let ctx = ctx.clone();
            let synced = synced_tx.clone();
            let mut listed_once = false;
            tasks.spawn(informer::run(
                registry.clone(),
                kind,
                stop.clone(),
                move |event| {
                    let affected = apply_guarded(&ctx, kind, &event);
                    ctx.enqueue(affected);
                    if matches!(event, InformerEvent::Listed(_)) && !listed_once {
                        listed_once = true;
                        synced.send_modify(|n| *n = n.saturating_add(1));
                    }
                },
            ));
        }
        tasks.spawn(ctx.queue.clone().run_timer(stop.clone()));
        if let Some(changes) = node_changes {
            tasks.spawn(node_source::forward_changes(
                ctx.clone(),
                changes,
                stop.clone(),
            ));
        }
        for _ in 0..options.workers.max(1) {
            let ctx = ctx.clone();
            let stop = stop.clone();
            let mut synced = synced_rx.clone();
            tasks.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = synced.wait_for(|n| *n >= 3) => {}
                }
                loop {
                    let key = tokio::select! {
                        () = stop.cancelled() => return,
                        key = ctx.queue.next() => key,
                    };
                    work_once(&ctx, &key).await;
                    ctx.queue.done(&key);
                }
            });
        }
        Scheduler { stop, tasks }
    }

    /// Stops every worker and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stops every worker: those still busy after `grace` (a write waiting on a slow store)
    /// are aborted, so a replica that lost leadership stops writing within `grace`.
    pub async fn shutdown_within(mut self, grace: Duration) {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(?grace, "scheduler workers still busy; aborting them");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Runs the work of `key` once. A reconcile that fails, or panics (a bug, or input nobody
/// foresaw), is retried with the queue's backoff; the worker goes on with the next key.
async fn work_once(ctx: &Context, key: &Work) {
    let run = async {
        match key {
            Work::PullJob(job) => reconcile::reconcile(ctx, job).await,
            Work::ListJob(list) => list_job::reconcile(ctx, list).await,
            Work::Node(name) => node_cleanup::reconcile(ctx, name).await,
            Work::Readiness(name) => images_ready::reconcile(ctx, name).await,
        }
    };
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(())) => ctx.queue.forget(key),
        Ok(Err(err)) => {
            let delay = ctx.queue.retry(key.clone());
            tracing::warn!(work = %key, error = %err.message, ?delay, "scheduler: reconcile failed; retrying");
        }
        Err(panic) => {
            let delay = ctx.queue.retry(key.clone());
            tracing::error!(work = %key, panic = panic_message(&*panic), ?delay, "scheduler: reconcile panicked; retrying");
        }
    }
}

/// The message a panic carried, for the log.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Takes an informer's event into the cache. A panic here (a bug, or input nobody foresaw)
/// is logged and the event skipped: the informer goes on, and the next relist repairs the
/// cache.
fn apply_guarded(ctx: &Context, kind: Kind, event: &InformerEvent) -> Affected {
    match std::panic::catch_unwind(AssertUnwindSafe(|| apply(ctx, kind, event))) {
        Ok(affected) => affected,
        Err(panic) => {
            tracing::error!(%kind, panic = panic_message(&*panic), "scheduler: an informer event could not be applied; skipped");
            Affected::default()
        }
    }
}

fn apply(ctx: &Context, kind: Kind, event: &InformerEvent) -> Affected {
    let mut cache = ctx.cache();
    match (kind, event) {
        (Kind::NodeImage, InformerEvent::Listed(items)) => cache.replace_nodes(items),
        (Kind::NodeImage, InformerEvent::Applied(object)) => cache.put_node(object),
        (Kind::NodeImage, InformerEvent::Deleted(object)) => cache.delete_node(object),
        (Kind::ImageListPullJob, InformerEvent::Listed(items)) => cache.replace_lists(items),
        (Kind::ImageListPullJob, InformerEvent::Applied(object)) => cache.put_list(object),
        (Kind::ImageListPullJob, InformerEvent::Deleted(object)) => cache.delete_list(object),
        (_, InformerEvent::Listed(items)) => cache.replace_jobs(items),
        (_, InformerEvent::Applied(object)) => cache.put_job(object),
        (_, InformerEvent::Deleted(object)) => cache.delete_job(object),
    }
}
