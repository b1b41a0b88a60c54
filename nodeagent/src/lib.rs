//! Prepull's node agent: pulls the images its node's NodeImage asks for through the container
//! runtime (CRI) and reports each pull in the NodeImage's status.
//!
//! Start reading at [`run_until`]: startup is [`options::Options`] -> [`config::Config`] ->
//! run. The watch of the node's own NodeImage feeds [`task_table::TaskTable::reconcile`], which
//! starts [`pull_task`]s (CRI calls in [`image_runtime`], credentials from [`docker_config`]
//! and [`credential_provider`], and, handed by the API server for pull secrets,
//! [`handed_credentials`]; byte progress from containerd in [`download_progress`]);
//! [`status_writer`] turns the table into coalesced merge patches of `/status`;
//! [`image_pins`] keeps pulled images pinned in containerd while their tags are wanted;
//! [`stall_detection`] and [`disk_reserve`] give up pulls that stopped moving or would fill
//! the disk. [`health`]
//! serves `/healthz` and [`metrics`].

pub mod config;
pub mod credential_provider;
pub mod cri_endpoint;
pub mod disk_reserve;
pub mod docker_config;
pub mod docker_config_file;
pub mod download_progress;
pub mod handed_credentials;
pub mod health;
pub mod image_pins;
pub mod image_runtime;
pub mod metrics;
pub mod options;
pub mod pull_task;
pub mod registration;
pub mod stall_detection;
pub mod status_writer;
pub mod task_table;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use prepull_api::{NodeImage, NodeImageSpec};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use config::Config;
use cri_endpoint::CriEndpointError;
use download_progress::DownloadProgress;
use image_runtime::ImageRuntime;
use metrics::AgentMetrics;
use pull_task::PullContext;
use task_table::TaskTable;

/// Why the agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No container runtime answered.
    #[error(transparent)]
    Cri(#[from] CriEndpointError),
    /// The API client could not be built from the kubeconfig.
    #[error("building the API client: {0}")]
    Client(#[from] kube::Error),
}

/// Runs the agent until `shutdown` resolves: checks the runtime answers, registers the
/// NodeImage (or keeps its labels on it), then watches it and pulls what it asks for. Running pulls are cancelled at
/// shutdown (a restart pulls them again; finished ones are adopted).
pub async fn run_until(
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let runtime = cri_endpoint::find_runtime(config.cri_endpoint.as_deref()).await?;
    tracing::info!(endpoint = %runtime.endpoint, runtime = %runtime.version, "container runtime answers");
    let client = kube::Client::try_from(config.kube)?;
    let api: Api<NodeImage> = Api::all(client.clone());
    let node = config.node_name;
    // The node identity creates its own NodeImage. A failure (API server down, a cluster-mode
    // authorizer that does not let nodes create) is not fatal: the NodeImage may be created by
    // someone else, and the watch picks it up (and registers again) when it appears.
    if let Err(err) = registration::ensure_registered(&api, &node, &config.node_labels).await {
        tracing::warn!(%err, "cannot register the NodeImage yet; waiting for it to exist");
    }

    let table = Arc::new(TaskTable::new());
    let metrics = AgentMetrics::new();
    // containerd's own API on the same socket tells how far a pull is; other runtimes have none.
    let progress = (runtime.name == "containerd")
        .then(|| DownloadProgress::new(runtime.channel.clone(), metrics.clone()));
    let pins = (runtime.name == "containerd").then(|| {
        image_pins::ImagePins::new(image_pins::ContainerdImages::new(
            runtime.channel.clone(),
            metrics.clone(),
        ))
    });
    let context = Arc::new(PullContext {
        runtime: ImageRuntime::new(runtime.channel, metrics.clone()),
        slots: Semaphore::new(config.max_concurrent_pulls),
        credentials: config.credentials,
        providers: config.credential_providers,
        handed: Some(handed_credentials::HandedCredentials::new(
            client,
            node.clone(),
        )),
        table: Arc::clone(&table),
        progress,
        metrics: metrics.clone(),
        stall_timeout: config.stall_timeout,
        disk: disk_reserve::DiskReserve::new(config.disk_reserve_percent),
    });
    let stop = CancellationToken::new();
    let writer = tokio::spawn(status_writer::run(
        api.clone(),
        node.clone(),
        Arc::clone(&table),
        config.status_interval,
        metrics.clone(),
        stop.clone(),
    ));
    if config.pin_images && runtime.version.starts_with("containerd 1.6") {
        tracing::warn!(
            runtime = %runtime.version,
            "containerd 1.6 does not report pinned images to kubelet: pins are set but kubelet's \
             image GC can still remove the images (containerd 1.7 or later honours them)"
        );
    }
    let pinner = pins.map(|pins| {
        tokio::spawn(image_pins::run(
            pins,
            Arc::clone(&table),
            config.pin_images,
            stop.clone(),
        ))
    });
    if config.health_port != 0 {
        let stop = stop.clone();
        let port = config.health_port;
        let address = std::net::SocketAddr::new(config.health_bind_address, port);
        tokio::spawn(async move {
            if let Err(err) = health::serve(address, metrics, stop).await {
                tracing::error!(port, %err, "the health endpoint failed");
            }
        });
    }
    tokio::select! {
        () = shutdown => {}
        () = watch_own_node(api, &node, &config.node_labels, &context) => {}
    }
    table.cancel_all();
    context.slots.close();
    stop.cancel();
    let _ = writer.await;
    if let Some(pinner) = pinner {
        let _ = pinner.await;
    }
    Ok(())
}

/// Follows NodeImage `node` (fieldSelector on its name; the watcher resumes from the last
/// resourceVersion and lists again after 410 Gone), reconciling the table on every change and
/// registering the NodeImage again when it disappears.
async fn watch_own_node(
    api: Api<NodeImage>,
    node: &str,
    labels: &std::collections::BTreeMap<String, String>,
    context: &Arc<PullContext>,
) {
    let selector = format!("metadata.name={node}");
    let mut events = watcher::watcher(api.clone(), watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let mut listed = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(object) | Event::InitApply(object)) => {
                listed = true;
                for task in context.table.reconcile(&object) {
                    tokio::spawn(pull_task::run(Arc::clone(context), task));
                }
            }
            Ok(Event::Init) => listed = false,
            Ok(Event::InitDone) if listed => {}
            Ok(Event::InitDone | Event::Delete(_)) => {
                context
                    .table
                    .reconcile(&NodeImage::new(node, NodeImageSpec::default()));
                if let Err(err) = registration::ensure_registered(&api, node, labels).await {
                    tracing::warn!(%err, "registering the NodeImage again failed");
                }
            }
            Err(err) => tracing::warn!(node, %err, "watching the NodeImage"),
        }
    }
}
