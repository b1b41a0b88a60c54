//! The scheduler tests' world: the real embedded store in a temporary directory behind the
//! watch cache, the registry over it in-process, the scheduler running on it, and
//! [`StandInAgents`], which answer NodeImage tasks the way node agents do (status at the
//! spec's version) so the scheduler's inputs can be driven without containerd.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::node_image::{ImagePullPhase, ImageTagStatus};
use prepull_api::{ApiVersion, GROUP, ImageListPullJob, ImagePullJob, Kind, NodeImage};
use prepull_apiserver::registry::{
    Body, ReadRevision, Registry, RegistryOptions, Subresource, WatchItem, WatchParams, WriteParams,
};
use prepull_apiserver::scheduler::{Scheduler, SchedulerOptions};
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::keys::resource_prefix;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(20);

/// A registry on a fresh embedded store with the scheduler running on it.
pub struct World {
    pub registry: Arc<Registry>,
    scheduler: Option<Scheduler>,
    _dir: TempDir,
}

impl World {
    pub async fn start() -> World {
        World::start_with(SchedulerOptions::default()).await
    }

    /// A world whose scheduler runs with `options`.
    pub async fn start_with(options: SchedulerOptions) -> World {
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
        let scheduler = Scheduler::start(registry.clone(), options);
        World {
            registry,
            scheduler: Some(scheduler),
            _dir: dir,
        }
    }

    /// Registers NodeImage `name` with `labels`, as a node agent does in standalone mode.
    pub async fn register_node(&self, name: &str, labels: &[(&str, &str)]) {
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        let body = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": name, "labels": labels},
        });
        self.registry
            .store(Kind::NodeImage)
            .create(None, Body::Value(body), ApiVersion::V1alpha1, &writer())
            .await
            .expect("register node");
    }

    /// Creates ImagePullJob `name` in `default` with `spec`.
    pub async fn create_job(&self, name: &str, spec: Value) {
        let body = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        });
        self.registry
            .store(Kind::ImagePullJob)
            .create(
                Some("default"),
                Body::Value(body),
                ApiVersion::V1alpha1,
                &writer(),
            )
            .await
            .expect("create job");
    }

    /// Creates ImageListPullJob `name` in `default` with `spec`.
    pub async fn create_list_job(&self, name: &str, spec: Value) {
        let body = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImageListPullJob",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        });
        self.registry
            .store(Kind::ImageListPullJob)
            .create(
                Some("default"),
                Body::Value(body),
                ApiVersion::V1alpha1,
                &writer(),
            )
            .await
            .expect("create list job");
    }

    pub async fn list_job(&self, name: &str) -> Option<ImageListPullJob> {
        let object = self
            .registry
            .store(Kind::ImageListPullJob)
            .get(Some("default"), name, ReadRevision::Latest)
            .await
            .ok()?;
        Some(serde_json::from_value((*object.value()).clone()).expect("a list job"))
    }

    /// Every ImagePullJob in `default`.
    pub async fn jobs(&self) -> Vec<ImagePullJob> {
        let list = self
            .registry
            .store(Kind::ImagePullJob)
            .list(Some("default"), &Default::default())
            .await
            .expect("list jobs");
        list.items
            .iter()
            .map(|o| serde_json::from_value((*o.value()).clone()).expect("a job"))
            .collect()
    }

    pub async fn job(&self, name: &str) -> Option<ImagePullJob> {
        let object = self
            .registry
            .store(Kind::ImagePullJob)
            .get(Some("default"), name, ReadRevision::Latest)
            .await
            .ok()?;
        Some(serde_json::from_value((*object.value()).clone()).expect("a job"))
    }

    pub async fn node(&self, name: &str) -> NodeImage {
        let object = self
            .registry
            .store(Kind::NodeImage)
            .get(None, name, ReadRevision::Latest)
            .await
            .expect("node image");
        serde_json::from_value((*object.value()).clone()).expect("a node image")
    }

    /// Waits until job `name` has a completionTime, and returns it.
    pub async fn finished_job(&self, name: &str) -> ImagePullJob {
        prepull_testbed::assert_eventually(&format!("job {name} finishes"), WAIT, || async {
            match self.job(name).await {
                Some(job)
                    if job
                        .status
                        .as_ref()
                        .is_some_and(|s| s.completion_time.is_some()) =>
                {
                    Ok(job)
                }
                other => Err(format!("status {:?}", other.and_then(|j| j.status))),
            }
        })
        .await
    }

    pub async fn stop(mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.shutdown().await;
        }
    }
}

pub fn writer() -> WriteParams {
    WriteParams {
        field_manager: Some("scheduler-test".into()),
        ..WriteParams::default()
    }
}

/// Tasks answered, as (node, image, tag, version).
type Answered = Mutex<BTreeSet<(String, String, String, i64)>>;

/// How a stand-in agent answers a task on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Succeed,
    Fail(String),
    /// Never answers (a node that is stuck or gone quiet).
    Ignore,
    /// Succeeds with hostile numbers: start and completion in the year 9999, and a status
    /// entry for tag `overflow` of each image at version `i64::MAX`.
    SucceedHostile,
}

/// Answers every task on every NodeImage by writing its status at the spec's version, as
/// the node agents do: Succeeded, or Failed with a message, per node. Records every task it
/// has answered as (node, image, tag, version).
pub struct StandInAgents {
    task: JoinHandle<()>,
    answered: Arc<Answered>,
}

impl StandInAgents {
    pub async fn start(registry: Arc<Registry>, answer: fn(&str) -> Answer) -> StandInAgents {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let recorded = seen.clone();
        let mut events = registry
            .store(Kind::NodeImage)
            .watch(None, &WatchParams::default())
            .await
            .expect("watch node images");
        let task = tokio::spawn(async move {
            while let Some(item) = events.next().await {
                let WatchItem::Event { object, .. } = item else {
                    continue;
                };
                let name = object.name().to_owned();
                let answer = answer(&name);
                if answer != Answer::Ignore {
                    answer_tasks(&registry, &name, &answer, &recorded).await;
                }
            }
        });
        StandInAgents {
            task,
            answered: seen,
        }
    }
}

impl StandInAgents {
    /// The versions of `image`:`tag` answered on `node`, ascending.
    pub fn answered_versions(&self, node: &str, image: &str, tag: &str) -> Vec<i64> {
        self.answered
            .lock()
            .iter()
            .filter(|(n, i, t, _)| n == node && i == image && t == tag)
            .map(|(_, _, _, version)| *version)
            .collect()
    }
}

impl Drop for StandInAgents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes a final status for every spec tag of `name` without one at its version.
async fn answer_tasks(registry: &Registry, name: &str, answer: &Answer, seen: &Answered) {
    let store = registry.store(Kind::NodeImage);
    for _ in 0..20 {
        let Ok(object) = store.get(None, name, ReadRevision::Latest).await else {
            return;
        };
        let mut node: NodeImage = serde_json::from_value((*object.value()).clone()).expect("node");
        let mut status = node.status.clone().unwrap_or_default();
        let mut changed = false;
        for (image, spec) in &node.spec.images {
            let entry = status.image_statuses.entry(image.clone()).or_default();
            for tag in &spec.tags {
                if entry
                    .tags
                    .iter()
                    .any(|t| t.tag == tag.tag && t.version == tag.version)
                {
                    continue;
                }
                seen.lock()
                    .insert((name.to_owned(), image.clone(), tag.tag.clone(), tag.version));
                entry.tags.retain(|t| t.tag != tag.tag);
                let (phase, message) = match answer {
                    Answer::Fail(message) => (ImagePullPhase::Failed, message.clone()),
                    _ => (ImagePullPhase::Succeeded, String::new()),
                };
                let hostile = *answer == Answer::SucceedHostile;
                let when = if hostile {
                    k8s_openapi::jiff::Timestamp::MAX
                } else {
                    k8s_openapi::jiff::Timestamp::now()
                };
                entry.tags.push(ImageTagStatus {
                    tag: tag.tag.clone(),
                    phase: phase.clone(),
                    progress: 100,
                    start_time: hostile.then_some(Time(when)),
                    completion_time: Some(Time(when)),
                    version: tag.version,
                    message,
                    ..ImageTagStatus::default()
                });
                if hostile && !entry.tags.iter().any(|t| t.tag == "overflow") {
                    entry.tags.push(ImageTagStatus {
                        tag: "overflow".into(),
                        phase,
                        version: i64::MAX,
                        completion_time: Some(Time(when)),
                        ..ImageTagStatus::default()
                    });
                }
                changed = true;
            }
        }
        if !changed {
            return;
        }
        node.status = Some(status);
        let body = serde_json::to_value(&node).expect("serialize");
        match store
            .update(
                None,
                name,
                Body::Value(body),
                ApiVersion::V1alpha1,
                Subresource::Status,
                &writer(),
            )
            .await
        {
            Ok(_) => return,
            Err(err) if err.code.as_u16() == 409 => continue,
            Err(err) => panic!("stand-in agent status write failed: {}", err.message),
        }
    }
}
