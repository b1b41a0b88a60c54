//! Prepull's API server: serves apps.kruise.io ImagePullJob, ImageListPullJob and NodeImage
//! natively, as an aggregated API server (cluster mode) or on its own (standalone mode).
//!
//! Start reading at [`run`]: startup is [`options::Options`] -> [`config::Config`] -> run.
//! Cluster mode (the default) adds [`cluster`]: the main cluster's client, the CRD conflict
//! check and authentication/authorization delegated to kube-apiserver ([`auth::delegated`]).
//! Requests enter through [`serve`] (TLS, HTTP/1.1 and HTTP/2) into the router built by
//! [`http::router`], which authenticates and authorizes them and hands resource requests to
//! [`http::handlers`]; those call the [`registry`], which owns every rule about objects and
//! talks to the storage. Every failure becomes a Kubernetes `Status` in [`http::status`].

pub mod auth;
pub mod certs;
pub mod cluster;
pub mod config;
pub mod feature_gates;
pub mod http;
pub mod leader;
pub mod main_cluster;
pub mod metrics;
pub mod options;
pub mod registry;
pub mod scheduler;
pub mod serve;
pub mod standalone;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{Context, Result};
use prepull_api::{GROUP, Kind};
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::etcd::{EtcdConfig, EtcdStore};
use prepull_storage::keys::resource_prefix;
use prepull_storage::{Storage, StorageError};
use tokio_util::sync::CancellationToken;

use config::{Config, StorageConfig};
use metrics::{MeteredStorage, Metrics};
use registry::{FeatureGates, Registry, RegistryOptions, SystemClock};

/// How long startup waits for another holder of the embedded store's directory to let go.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// How long startup waits for the watch cache's first load before serving anyway.
const CACHE_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: Config) -> Result<()> {
    run_until(config, serve::shutdown_signal()).await
}

/// Runs the server until `shutdown` resolves, then stops accepting connections, ends every
/// watch (their streams finish cleanly), lets other requests finish within the shutdown
/// timeout and closes the storage.
pub async fn run_until(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    // Cancelled when serving ends: stops cluster mode's background tasks.
    let background = CancellationToken::new();
    let _stop_background = background.clone().drop_guard();
    let cluster = match &config.cluster {
        Some(cluster) => Some(start_cluster_mode(cluster, background.clone()).await?),
        None => None,
    };
    let metrics = metrics::Metrics::new();
    let (storage, etcd_store) = open_storage(&config.storage, &metrics).await?;
    let storage_health = storage.clone();
    let registry = Registry::new(
        storage,
        RegistryOptions {
            feature_gates: FeatureGates {
                image_pull_job_gate: config.feature_gates.image_pull_job_gate(),
            },
            // Standalone mode has no garbage collector to remove its finalizers; in cluster
            // mode kube-controller-manager's collects our kinds like any other.
            garbage_collection: cluster.is_some(),
            clock: Arc::new(SystemClock),
        },
    );
    let mut state = match &cluster {
        Some(cluster) => {
            let mut state =
                http::AppState::new(Arc::new(registry), cluster.delegation.authorizer.clone());
            state.authenticator = cluster.delegation.authenticator.clone();
            state
        }
        None => http::AppState::new(
            Arc::new(registry),
            Arc::new(auth::authorize::StandaloneAuthorizer),
        ),
    };
    state.requests = config.requests;
    state.in_flight = http::inflight::InFlight::new(
        config.requests.max_requests_inflight,
        config.requests.max_mutating_requests_inflight,
    );
    state.metrics = metrics;
    state.health = http::health::storage::with_storage_check(state.health, storage_health);
    let watches = state.shutdown.clone();
    let health = state.health.clone();
    if let Some(standalone) = &config.standalone {
        state.authenticator = Arc::new(
            auth::authenticate::CertificateAuthenticator::with_revocations(Arc::new(
                standalone::node_certificates::RevokedCertificates::new(&standalone.pki_dir),
            )),
        );
        tokio::spawn(standalone::cert_renewal::run(
            standalone.pki_dir.clone(),
            standalone.tls_sans.clone(),
            standalone.serving_cert.clone(),
            state.shutdown.clone(),
        ));
        println!("Prepull API server: {}", standalone.url);
        println!("  export KUBECONFIG={}", standalone.kubeconfig.display());
    }
    // Extra endpoints served next to the API (behind the same filters).
    let mut extra_routes = axum::Router::new();
    // Cluster mode: the main cluster's Nodes and Pods are the scheduler's inventory, its
    // Secrets are handed to agents, Events are recorded there and a Lease elects the leader.
    let main_cluster = cluster.as_ref().map(|cluster| {
        main_cluster::MainCluster::start(
            cluster.main_client.clone(),
            state.registry.clone(),
            main_cluster::MainClusterOptions {
                identity: config.leader_election.identity.clone(),
                ..main_cluster::MainClusterOptions::default()
            },
        )
    });
    if let Some(main) = &main_cluster {
        extra_routes = extra_routes.merge(main.routes());
    }
    // The scheduler: an in-process client of the registry, next to the server, run by the
    // elected replica only.
    let scheduler_stop = CancellationToken::new();
    let scheduler = match config.scheduler.clone() {
        Some(options) => {
            let (election, nodes) = match &main_cluster {
                Some(main) => (main.election(), Some(main.node_source())),
                None => (election(&config).await?, None),
            };
            // On etcd the scheduler's writes are fenced by its term (an etcd election's terms
            // carry a fence; cluster mode's Lease terms do not).
            let fencing = etcd_store
                .map(|store| leader::fencing::FencedWrites::new(store, state.metrics.clone()));
            let (leading, mut follow) = tokio::sync::watch::channel(false);
            let metrics = state.metrics.clone();
            metrics.set_scheduler_leading(false);
            // Ends when the runner drops its sender.
            tokio::spawn(async move {
                while follow.changed().await.is_ok() {
                    metrics.set_scheduler_leading(*follow.borrow_and_update());
                }
            });
            Some(tokio::spawn(leader::runner::run_scheduler_when_leading(
                election,
                state.registry.clone(),
                leader::runner::SchedulerSetup {
                    options,
                    nodes,
                    fencing,
                },
                scheduler_stop.clone(),
                leading,
            )))
        }
        None => None,
    };
    let router = http::router_with(state, extra_routes);
    let served = serve::serve(config.serving, router, async move {
        shutdown.await;
        health.begin_shutdown();
        watches.cancel();
    })
    .await;
    scheduler_stop.cancel();
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    if let Some(main) = main_cluster {
        main.shutdown().await;
    }
    background.cancel();
    served
}

/// What cluster mode set up before serving.
struct ClusterMode {
    /// The main cluster.
    main_client: kube::Client,
    delegation: cluster::delegation::Delegation,
}

/// Connects to the main cluster, refuses to go on where CRDs serve our group-versions, sets up
/// delegated authentication and authorization, and re-reads the serving certificate
/// periodically; background work stops when `background` is cancelled.
async fn start_cluster_mode(
    config: &cluster::ClusterConfig,
    background: CancellationToken,
) -> Result<ClusterMode> {
    let main_client = cluster::client::connect(config.kubeconfig.as_deref())
        .await
        .context("connecting to the main cluster")?;
    cluster::crd_conflict::refuse_if_crds_own_our_versions(main_client.clone()).await?;
    let delegation = cluster::delegation::Delegation::start(config, background.clone()).await?;
    tokio::spawn(
        config
            .serving_cert
            .clone()
            .reload_every(config.cert_reload_interval, background),
    );
    Ok(ClusterMode {
        main_client,
        delegation,
    })
}

/// The scheduler's leader election: on etcd, replicas elect one; the embedded store is
/// owned by this process alone, so it always leads.
async fn election(config: &Config) -> Result<Arc<dyn leader::Election>> {
    let identity = config.leader_election.identity.clone();
    Ok(match &config.storage {
        StorageConfig::Embedded { .. } => Arc::new(leader::always::AlwaysLeader::new(identity)),
        StorageConfig::Etcd {
            servers,
            prefix,
            tls,
        } => {
            let election_config = leader::etcd::EtcdElectionConfig::new(
                servers.clone(),
                prefix,
                identity,
                config.leader_election.lease,
            )
            .with_tls(tls.clone());
            Arc::new(leader::etcd::EtcdElection::connect(election_config).await?)
        }
    })
}

/// The storage `config` names, behind the watch cache (which serves reads and watches from
/// memory; the backend only sees writes and one watch). The backend's calls are timed in
/// `metrics` under its name (`embedded`, `etcd`), the cache's under `cache`. On etcd, the
/// etcd store itself is returned too (to fence the scheduler's writes by its leadership).
async fn open_storage(
    config: &StorageConfig,
    metrics: &Metrics,
) -> Result<(Arc<dyn Storage>, Option<EtcdStore>)> {
    let (backend, name, etcd): (Arc<dyn Storage>, &'static str, _) = match config {
        StorageConfig::Embedded { dir } => (
            Arc::new(open_embedded(dir.clone()).await?),
            "embedded",
            None,
        ),
        StorageConfig::Etcd {
            servers,
            prefix,
            tls,
        } => {
            let config = EtcdConfig::new(servers.clone())
                .with_prefix(prefix.clone())
                .with_tls(tls.clone());
            let store = EtcdStore::connect(config)
                .await
                .with_context(|| format!("connecting to etcd at {}", servers.join(",")))?;
            (Arc::new(store.clone()), "etcd", Some(store))
        }
    };
    let backend = Arc::new(MeteredStorage::new(backend, metrics.clone(), name));
    let prefixes = Kind::ALL
        .into_iter()
        .map(|kind| resource_prefix(GROUP, kind.info().plural, None))
        .collect();
    let cache = WatchCache::new(backend, prefixes, CacheOptions::default())
        .context("starting the watch cache")?;
    if !cache.wait_until_ready(CACHE_READY_TIMEOUT).await {
        tracing::warn!("the watch cache is not loaded yet; the backend serves reads until it is");
    }
    let cached: Arc<dyn Storage> = Arc::new(MeteredStorage::new(
        Arc::new(cache),
        metrics.clone(),
        "cache",
    ));
    Ok((cached, etcd))
}

/// Opens the embedded store in `dir`. While another store still holds the directory (a
/// previous run in this process or another one, shutting down) opening is retried for up to
/// [`STORE_LOCK_WAIT`].
async fn open_embedded(dir: PathBuf) -> Result<EmbeddedStore> {
    let deadline = tokio::time::Instant::now() + STORE_LOCK_WAIT;
    loop {
        let attempt_dir = dir.clone();
        let opened = tokio::task::spawn_blocking(move || {
            EmbeddedStore::open(&attempt_dir, EmbeddedOptions::default())
        })
        .await
        .context("opening the embedded store")?;
        match opened {
            Ok(store) => return Ok(store),
            Err(StorageError::Unavailable { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("opening the embedded store in {}", dir.display()));
            }
        }
    }
}
