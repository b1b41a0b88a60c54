//! [`PodSelections`]: where the Pods that `podSelector` jobs select run. Only what active jobs
//! need is watched: one Pod watch per distinct (namespace, selector) of the ImagePullJobs that
//! have a `podSelector` and are neither complete nor being deleted, started when the first
//! such job appears and stopped when the last one goes. Each watch keeps the node of every
//! active Pod it sees (bound to a node, not finished, not being deleted).

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use prepull_api::ImagePullJob;
use prepull_api::label_selector::to_label_query;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::registry::Object;
use crate::scheduler::cache::JobKey;
use crate::scheduler::informer::InformerEvent;
use crate::scheduler::node_source::NodeChange;

/// Pods of one namespace matched by one label query (its canonical text).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Selection {
    namespace: String,
    query: String,
}

/// Pod name -> node name, once the first list is done.
type Placements = Arc<Mutex<Option<BTreeMap<String, String>>>>;

#[derive(Debug)]
struct Watch {
    placements: Placements,
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    watches: HashMap<Selection, Watch>,
    jobs: HashMap<JobKey, Selection>,
}

/// The Pod watches of the active `podSelector` jobs.
pub struct PodSelections {
    client: kube::Client,
    state: Mutex<State>,
    changes: broadcast::Sender<NodeChange>,
    stop: CancellationToken,
}

impl std::fmt::Debug for PodSelections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodSelections")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PodSelections {
    /// No watches yet; they run until `stop` and report on `changes`.
    pub(super) fn new(
        client: kube::Client,
        changes: broadcast::Sender<NodeChange>,
        stop: CancellationToken,
    ) -> PodSelections {
        PodSelections {
            client,
            state: Mutex::new(State::default()),
            changes,
            stop,
        }
    }

    /// The nodes of the active Pods `selector` matches in `namespace`; `None` until its watch
    /// has listed (or when no active job uses that selector).
    pub fn nodes(&self, namespace: &str, selector: &LabelSelector) -> Option<BTreeSet<String>> {
        let Ok(query) = to_label_query(selector) else {
            // Validation refuses such selectors; one that slipped through selects nothing.
            return Some(BTreeSet::new());
        };
        let selection = Selection {
            namespace: namespace.to_owned(),
            query: query.to_string(),
        };
        let state = self.state.lock();
        let placements = state.watches.get(&selection)?.placements.lock();
        placements
            .as_ref()
            .map(|pods| pods.values().cloned().collect())
    }

    /// Takes in an event of the ImagePullJob informer.
    pub(super) fn observe(&self, event: &InformerEvent) {
        match event {
            InformerEvent::Listed(items) => {
                let wanted: HashMap<JobKey, Selection> =
                    items.iter().filter_map(selection_of).collect();
                let mut state = self.state.lock();
                let gone: Vec<JobKey> = state
                    .jobs
                    .keys()
                    .filter(|key| !wanted.contains_key(*key))
                    .cloned()
                    .collect();
                for key in gone {
                    self.set(&mut state, key, None);
                }
                for (key, selection) in wanted {
                    self.set(&mut state, key, Some(selection));
                }
            }
            InformerEvent::Applied(object) => {
                let Some(key) = job_key(object) else { return };
                let selection = selection_of(object).map(|(_, s)| s);
                let mut state = self.state.lock();
                self.set(&mut state, key, selection);
            }
            InformerEvent::Deleted(object) => {
                let Some(key) = job_key(object) else { return };
                let mut state = self.state.lock();
                self.set(&mut state, key, None);
            }
        }
    }

    /// Records that job `key` needs `selection` (or nothing), starting and stopping watches.
    fn set(&self, state: &mut State, key: JobKey, selection: Option<Selection>) {
        let previous = match &selection {
            Some(selection) => state.jobs.insert(key, selection.clone()),
            None => state.jobs.remove(&key),
        };
        if previous == selection {
            return;
        }
        if let Some(previous) = previous
            && !state.jobs.values().any(|s| *s == previous)
            && let Some(watch) = state.watches.remove(&previous)
        {
            tracing::debug!(namespace = %previous.namespace, selector = %previous.query, "pod watch stopped");
            watch.stop.cancel();
        }
        if let Some(selection) = selection
            && !state.watches.contains_key(&selection)
        {
            let watch = Watch {
                placements: Arc::new(Mutex::new(None)),
                stop: self.stop.child_token(),
            };
            tokio::spawn(run_watch(
                self.client.clone(),
                selection.clone(),
                watch.placements.clone(),
                self.changes.clone(),
                watch.stop.clone(),
            ));
            state.watches.insert(selection, watch);
        }
    }
}

/// The job's key and the Pods it needs, when it is active and has a `podSelector`.
fn selection_of(object: &Object) -> Option<(JobKey, Selection)> {
    let job: ImagePullJob = serde_json::from_value((*object.value()).clone()).ok()?;
    let finished = job
        .status
        .as_ref()
        .is_some_and(|s| s.completion_time.is_some());
    if finished || job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let selector = job.spec.template.pod_selector.as_ref()?;
    let query = to_label_query(&selector.label_selector).ok()?;
    let namespace = job.metadata.namespace.clone()?;
    let key = JobKey {
        namespace: namespace.clone(),
        name: job.metadata.name.clone()?,
    };
    Some((
        key,
        Selection {
            namespace,
            query: query.to_string(),
        },
    ))
}

fn job_key(object: &Object) -> Option<JobKey> {
    let metadata = object.value().get("metadata")?;
    Some(JobKey {
        namespace: metadata.get("namespace")?.as_str()?.to_owned(),
        name: metadata.get("name")?.as_str()?.to_owned(),
    })
}

/// The node of `pod` when it is active: bound, not finished, not being deleted.
fn active_node(pod: &Pod) -> Option<String> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    pod.spec
        .as_ref()?
        .node_name
        .clone()
        .filter(|n| !n.is_empty())
}

/// Lists and watches the Pods of `selection` (the watcher relists on 410 and backs off on
/// failures) until `stop`, keeping `placements` and broadcasting when their nodes change.
async fn run_watch(
    client: kube::Client,
    selection: Selection,
    placements: Placements,
    changes: broadcast::Sender<NodeChange>,
    stop: CancellationToken,
) {
    tracing::debug!(namespace = %selection.namespace, selector = %selection.query, "pod watch started");
    let api: Api<Pod> = Api::namespaced(client, &selection.namespace);
    let config = watcher::Config::default().labels(&selection.query);
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    let mut listing: BTreeMap<String, String> = BTreeMap::new();
    let notify = || {
        let _ = changes.send(NodeChange::Pods {
            namespace: selection.namespace.clone(),
        });
    };
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.next() => event,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(namespace = %selection.namespace, %err, "pod watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => listing.clear(),
            Event::InitApply(pod) => {
                if let (Some(name), Some(node)) = (pod.metadata.name.clone(), active_node(&pod)) {
                    listing.insert(name, node);
                }
            }
            Event::InitDone => {
                *placements.lock() = Some(std::mem::take(&mut listing));
                notify();
            }
            Event::Apply(pod) => {
                if update(&placements, &pod, active_node(&pod)) {
                    notify();
                }
            }
            Event::Delete(pod) => {
                if update(&placements, &pod, None) {
                    notify();
                }
            }
        }
    }
}

/// Records that `pod` runs on `node` (or on none); returns whether the set of nodes changed.
/// Before the first list is done there is nothing to update.
fn update(placements: &Placements, pod: &Pod, node: Option<String>) -> bool {
    let Some(name) = pod.metadata.name.clone() else {
        return false;
    };
    let mut guard = placements.lock();
    let Some(pods) = guard.as_mut() else {
        return false;
    };
    let before: BTreeSet<String> = pods.values().cloned().collect();
    match node {
        Some(node) => pods.insert(name, node),
        None => pods.remove(&name),
    };
    before != pods.values().cloned().collect::<BTreeSet<String>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, phase: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase},
        }))
        .expect("a pod")
    }

    #[test]
    fn only_bound_unfinished_pods_place_a_node() {
        assert_eq!(
            active_node(&pod("a", Some("n1"), Some("Running"))),
            Some("n1".into())
        );
        assert_eq!(active_node(&pod("a", Some("n1"), None)), Some("n1".into()));
        assert_eq!(active_node(&pod("a", None, Some("Pending"))), None);
        assert_eq!(active_node(&pod("a", Some("n1"), Some("Succeeded"))), None);
        assert_eq!(active_node(&pod("a", Some("n1"), Some("Failed"))), None);
        let mut deleting = pod("a", Some("n1"), Some("Running"));
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert_eq!(active_node(&deleting), None);
    }

    #[test]
    fn a_change_is_reported_only_when_the_set_of_nodes_changes() {
        let placements: Placements = Arc::new(Mutex::new(None));
        let a = pod("a", Some("n1"), None);
        assert!(
            !update(&placements, &a, Some("n1".into())),
            "not listed yet"
        );
        *placements.lock() = Some(BTreeMap::new());
        assert!(update(&placements, &a, Some("n1".into())));
        let b = pod("b", Some("n1"), None);
        assert!(
            !update(&placements, &b, Some("n1".into())),
            "n1 already there"
        );
        assert!(!update(&placements, &a, None), "b still runs on n1");
        assert!(update(&placements, &b, None), "n1 has no pods left");
    }
}
