//! The main-cluster tests' world: real etcd and a real kube-apiserver (the main cluster), our
//! registry in-process on the real embedded store behind the watch cache, the main-cluster
//! connection and the scheduler (with the main cluster's nodes) running on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};
use prepull_api::{ApiVersion, GROUP, ImagePullJob, Kind, NodeImage};
use prepull_apiserver::main_cluster::{MainCluster, MainClusterOptions};
use prepull_apiserver::registry::{
    Body, ReadRevision, Registry, RegistryOptions, Subresource, WriteParams,
};
use prepull_apiserver::scheduler::{Scheduler, SchedulerOptions};
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::keys::resource_prefix;
use prepull_testbed::{Etcd, KubeApiserver};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// How long a test waits for something the system does on its own.
pub const WAIT: Duration = Duration::from_secs(30);
/// The Ready delay the main-cluster connection runs with.
pub const READY_DELAY: Duration = Duration::from_secs(3);

/// The main cluster and our server's parts.
pub struct World {
    _kube: KubeApiserver,
    _etcd: Etcd,
    pub client: kube::Client,
    pub registry: Arc<Registry>,
    pub main_cluster: Option<MainCluster>,
    scheduler: Option<Scheduler>,
    /// Ends this replica's leadership.
    lead: CancellationToken,
    _dir: TempDir,
}

impl World {
    pub async fn start() -> World {
        let etcd = Etcd::start().await.expect("etcd starts");
        let kube = KubeApiserver::start(&etcd)
            .await
            .expect("kube-apiserver starts");
        let client = client_for(&kube).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("store");
        let prefixes = Kind::ALL
            .into_iter()
            .map(|kind| resource_prefix(GROUP, kind.info().plural, None))
            .collect();
        let cache = WatchCache::new(Arc::new(store), prefixes, CacheOptions::default())
            .expect("cache options are valid");
        assert!(cache.wait_until_ready(Duration::from_secs(10)).await);
        let registry = Arc::new(Registry::with_watch_cache(
            Arc::new(cache),
            RegistryOptions {
                garbage_collection: false,
                ..RegistryOptions::default()
            },
        ));
        let options = MainClusterOptions {
            node_ready_delay: READY_DELAY,
            identity: "test-replica".to_owned(),
            lease_namespace: "default".to_owned(),
            ..MainClusterOptions::default()
        };
        // The wiring lib.rs does in cluster mode: the scheduler with the main cluster's nodes.
        let main_cluster = MainCluster::start(client.clone(), registry.clone(), options);
        let lead = CancellationToken::new();
        main_cluster
            .election()
            .acquire(&lead)
            .await
            .expect("the only replica leads");
        let scheduler = Scheduler::start_with_nodes(
            registry.clone(),
            SchedulerOptions::default(),
            main_cluster.node_source(),
        );
        World {
            _kube: kube,
            _etcd: etcd,
            client,
            registry,
            main_cluster: Some(main_cluster),
            scheduler: Some(scheduler),
            lead,
            _dir: dir,
        }
    }

    /// An admin client of the main cluster that connects through `host_port` (a proxy in
    /// front of kube-apiserver).
    pub async fn client_through(&self, host_port: &str) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self._kube.kubeconfig()).expect("kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("kube config");
        config.cluster_url = format!("https://{host_port}").parse().expect("a url");
        kube::Client::try_from(config).expect("kube client")
    }

    /// kube-apiserver's `127.0.0.1:<port>`.
    pub fn kube_host_port(&self) -> String {
        format!("127.0.0.1:{}", self._kube.port())
    }

    pub fn main_cluster(&self) -> &MainCluster {
        self.main_cluster.as_ref().expect("running")
    }

    /// Creates Node `name` with `labels`, Ready since `ready_since` (not Ready when `None`).
    pub async fn create_node(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        ready_since: Option<Timestamp>,
    ) {
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
        }))
        .expect("a node");
        let api: Api<Node> = Api::all(self.client.clone());
        api.create(&PostParams::default(), &node)
            .await
            .expect("create node");
        let (status, since) = match ready_since {
            Some(since) => ("True", since),
            None => ("False", Timestamp::now()),
        };
        let condition = json!({
            "type": "Ready", "status": status, "reason": "KubeletReady",
            "lastHeartbeatTime": since.to_string(), "lastTransitionTime": since.to_string(),
        });
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [condition]}})),
        )
        .await
        .expect("node status");
    }

    pub async fn set_node_labels(&self, name: &str, labels: Value) {
        let api: Api<Node> = Api::all(self.client.clone());
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": labels}})),
        )
        .await
        .expect("relabel node");
    }

    pub async fn delete_node(&self, name: &str) {
        let api: Api<Node> = Api::all(self.client.clone());
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete node");
    }

    /// Namespace `name` with the `default` ServiceAccount Pods need (no controller manager
    /// makes it here).
    pub async fn create_namespace(&self, name: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create namespace");
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), name);
        let account: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("an SA");
        accounts
            .create(&PostParams::default(), &account)
            .await
            .expect("create service account");
    }

    /// Pod `name` in `namespace` with `labels`, bound to `node` (no kubelet runs it).
    pub async fn create_pod(&self, namespace: &str, name: &str, labels: Value, node: &str) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "nodeName": node,
                "automountServiceAccountToken": false,
                "containers": [{"name": "c", "image": "registry.example/app:1"}],
            },
        }))
        .expect("a pod");
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        api.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    /// NodeImage `name`, if it exists.
    pub async fn node_image(&self, name: &str) -> Option<NodeImage> {
        let object = self
            .registry
            .store(Kind::NodeImage)
            .get(None, name, ReadRevision::Latest)
            .await
            .ok()?;
        Some(serde_json::from_value((*object.value()).clone()).expect("a NodeImage"))
    }

    /// Waits until NodeImage `name` satisfies `check`.
    pub async fn node_image_where(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&Option<NodeImage>) -> bool,
    ) -> Option<NodeImage> {
        prepull_testbed::assert_eventually(&format!("NodeImage {name}: {what}"), WAIT, || async {
            let image = self.node_image(name).await;
            if check(&image) {
                Ok(image)
            } else {
                Err(format!("{:?}", image.map(|i| i.metadata)))
            }
        })
        .await
    }

    /// Creates ImagePullJob `name` in `namespace` with `spec`.
    pub async fn create_job(&self, namespace: &str, name: &str, spec: Value) -> ImagePullJob {
        let body = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        });
        let written = self
            .registry
            .store(Kind::ImagePullJob)
            .create(
                Some(namespace),
                Body::Value(body),
                ApiVersion::V1alpha1,
                &WriteParams {
                    field_manager: Some("main-cluster-test".into()),
                    ..WriteParams::default()
                },
            )
            .await
            .expect("create job");
        serde_json::from_value((*written.object.value()).clone()).expect("a job")
    }

    pub async fn job(&self, namespace: &str, name: &str) -> ImagePullJob {
        let object = self
            .registry
            .store(Kind::ImagePullJob)
            .get(Some(namespace), name, ReadRevision::Latest)
            .await
            .expect("job");
        serde_json::from_value((*object.value()).clone()).expect("a job")
    }

    /// Answers every task of `image` on NodeImage `name` as failed with `message`, the way
    /// its agent reports (status at the spec's version).
    pub async fn fail_tasks(&self, name: &str, image: &str, message: &str) {
        let store = self.registry.store(Kind::NodeImage);
        for _ in 0..20 {
            let mut node = self.node_image(name).await.expect("NodeImage");
            let tags = node.spec.images.get(image).expect("a task").tags.clone();
            let mut status = node.status.clone().unwrap_or_default();
            let entry = status.image_statuses.entry(image.to_owned()).or_default();
            entry.tags = tags
                .iter()
                .map(|tag| ImageTagStatus {
                    tag: tag.tag.clone(),
                    phase: ImagePullPhase::Failed,
                    completion_time: Some(Time(Timestamp::now())),
                    version: tag.version,
                    message: message.to_owned(),
                    ..ImageTagStatus::default()
                })
                .collect();
            node.status = Some(status);
            let body = serde_json::to_value(&node).expect("serialize");
            match store
                .update(
                    None,
                    name,
                    Body::Value(body),
                    ApiVersion::V1alpha1,
                    Subresource::Status,
                    &WriteParams::default(),
                )
                .await
            {
                Ok(_) => return,
                Err(err) if err.code.as_u16() == 409 => continue,
                Err(err) => panic!("status write failed: {}", err.message),
            }
        }
        panic!("status write kept conflicting");
    }

    pub async fn stop(mut self) {
        self.lead.cancel();
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.shutdown().await;
        }
        if let Some(main_cluster) = self.main_cluster.take() {
            main_cluster.shutdown().await;
        }
    }
}

/// An admin client of `kube`.
pub async fn client_for(kube: &KubeApiserver) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kube.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}

/// The nodes whose NodeImage has a tag of `image` (any tag), sorted.
pub fn with_task(images: &[(&str, Option<NodeImage>)], image: &str) -> Vec<String> {
    images
        .iter()
        .filter(|(_, n)| {
            n.as_ref()
                .and_then(|n| n.spec.images.get(image))
                .is_some_and(|i| !i.tags.is_empty())
        })
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// Waits for an Event in `namespace` about `name` with `reason` (and `type_`), returning its note.
pub async fn event_note(
    world: &World,
    namespace: &str,
    name: &str,
    reason: &str,
    type_: &str,
) -> String {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), namespace);
    prepull_testbed::assert_eventually(
        &format!("a {type_} {reason} event on {name}"),
        WAIT,
        || async {
            let list = events
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            list.items
                .iter()
                .find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.type_.as_deref() == Some(type_)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                })
                .map(|e| e.note.clone().unwrap_or_default())
                .ok_or_else(|| format!("{} events", list.items.len()))
        },
    )
    .await
}
