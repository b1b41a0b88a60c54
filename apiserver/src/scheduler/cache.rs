//! [`Cache`]: the scheduler's in-memory view of ImagePullJobs and NodeImages, fed by the
//! informers, with the indexes reconciles need so no event causes a full recomputation:
//! job -> nodes whose NodeImage lists the job as a tag owner, and for a NodeImage change the
//! owners of exactly the tags that changed.
//!
//! Entries never go back in time: a watch event older than what the cache holds (the
//! scheduler also feeds in the objects its own writes return, which arrive before their
//! watch events) is ignored. Revisions are compared as the numbers the storage layer hands
//! out (`prepull_storage::Revision`), the one place the scheduler looks inside one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use prepull_api::node_image::ImageSpec;
use prepull_api::{ImageListPullJob, ImagePullJob, NodeImage};
use prepull_storage::Revision;

use super::images_ready;
use crate::registry::Object;

/// Kind name in the owner references the scheduler writes on NodeImage tags.
pub const JOB_KIND: &str = "ImagePullJob";
/// Kind name in the controller reference of an ImageListPullJob's children.
pub const LIST_JOB_KIND: &str = "ImageListPullJob";

/// A job's identity in queues and indexes: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A cached object with the revision it was read at.
#[derive(Clone, Debug)]
pub struct Cached<T> {
    pub object: Arc<T>,
    pub revision: Revision,
}

/// What a change to the cache means for the job queue.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// Jobs to reconcile.
    pub jobs: BTreeSet<JobKey>,
    /// The set of nodes or their labels changed: every job's targets may differ.
    pub all_jobs: bool,
    /// ImageListPullJobs to reconcile.
    pub lists: BTreeSet<JobKey>,
    /// NodeImages whose tags to clean up and whose ImagesReady condition to update.
    pub nodes: BTreeSet<String>,
    /// A job required for readiness came, went or changed: every NodeImage's ImagesReady
    /// condition may differ.
    pub readiness_of_all: bool,
}

/// Jobs and NodeImages, with indexes.
#[derive(Debug, Default)]
pub struct Cache {
    jobs: HashMap<JobKey, Cached<ImagePullJob>>,
    nodes: BTreeMap<String, Cached<NodeImage>>,
    /// Job -> names of the NodeImages with a tag this job (any uid) owns.
    nodes_by_owner: HashMap<JobKey, BTreeSet<String>>,
    lists: HashMap<JobKey, Cached<ImageListPullJob>>,
    /// ImageListPullJob -> its children (jobs whose controller reference names it).
    children: HashMap<JobKey, BTreeSet<JobKey>>,
}

impl Cache {
    /// The job `key`, if cached.
    pub fn job(&self, key: &JobKey) -> Option<Cached<ImagePullJob>> {
        self.jobs.get(key).cloned()
    }

    /// Every cached job's key.
    pub fn job_keys(&self) -> Vec<JobKey> {
        self.jobs.keys().cloned().collect()
    }

    /// The NodeImage `name`, if cached.
    pub fn node(&self, name: &str) -> Option<Cached<NodeImage>> {
        self.nodes.get(name).cloned()
    }

    /// Every cached NodeImage, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Cached<NodeImage>> {
        self.nodes.values()
    }

    /// The jobs required for readiness (see [`super::images_ready`]), not being deleted.
    pub fn required_jobs(&self) -> Vec<(JobKey, Arc<ImagePullJob>)> {
        self.jobs
            .iter()
            .filter(|(_, job)| {
                images_ready::is_required(&job.object)
                    && job.object.metadata.deletion_timestamp.is_none()
            })
            .map(|(key, job)| (key.clone(), job.object.clone()))
            .collect()
    }

    /// Whether any job is required for readiness (see [`Cache::required_jobs`]).
    pub fn has_required_jobs(&self) -> bool {
        self.jobs.values().any(|job| {
            images_ready::is_required(&job.object)
                && job.object.metadata.deletion_timestamp.is_none()
        })
    }

    /// Names of the NodeImages with a tag owned by a job named `key`.
    pub fn nodes_owned_by(&self, key: &JobKey) -> BTreeSet<String> {
        self.nodes_by_owner.get(key).cloned().unwrap_or_default()
    }

    /// Replaces every job with `objects` (a relist); returns the jobs to reconcile (all, old
    /// and new).
    pub fn replace_jobs(&mut self, objects: &[Object]) -> Affected {
        let mut affected = Affected::default();
        affected.jobs.extend(self.jobs.keys().cloned());
        affected.lists.extend(self.children.keys().cloned());
        affected.readiness_of_all = true;
        self.jobs.clear();
        self.children.clear();
        for object in objects {
            let put = self.put_job(object);
            affected.jobs.extend(put.jobs);
            affected.lists.extend(put.lists);
        }
        affected
    }

    /// Adds or updates a job (ignored when older than the cached one).
    pub fn put_job(&mut self, object: &Object) -> Affected {
        let Some((revision, job)) = parse::<ImagePullJob>(object) else {
            return Affected::default();
        };
        let key = job_key(&job);
        if self.jobs.get(&key).is_some_and(|c| c.revision > revision) {
            return Affected::default();
        }
        let readiness_of_all =
            readiness_changed(self.jobs.get(&key).map(|c| &*c.object), Some(&job));
        let mut lists = self.unindex_child(&key);
        if let Some(parent) = parent_list(&job) {
            self.children
                .entry(parent.clone())
                .or_default()
                .insert(key.clone());
            lists.insert(parent);
        }
        self.jobs.insert(
            key.clone(),
            Cached {
                object: Arc::new(job),
                revision,
            },
        );
        Affected {
            jobs: BTreeSet::from([key]),
            lists,
            readiness_of_all,
            ..Affected::default()
        }
    }

    /// Removes `key` from its parent's children; returns the parent.
    fn unindex_child(&mut self, key: &JobKey) -> BTreeSet<JobKey> {
        let parent = self.jobs.get(key).and_then(|c| parent_list(&c.object));
        if let Some(parent) = &parent
            && let Some(children) = self.children.get_mut(parent)
        {
            children.remove(key);
            if children.is_empty() {
                self.children.remove(parent);
            }
        }
        parent.into_iter().collect()
    }

    /// The ImageListPullJob `key`, if cached.
    pub fn list_job(&self, key: &JobKey) -> Option<Cached<ImageListPullJob>> {
        self.lists.get(key).cloned()
    }

    /// The cached children of ImageListPullJob `key`.
    pub fn children_of(&self, key: &JobKey) -> Vec<Cached<ImagePullJob>> {
        self.children
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|child| self.jobs.get(child).cloned())
            .collect()
    }

    /// Replaces every ImageListPullJob (a relist).
    pub fn replace_lists(&mut self, objects: &[Object]) -> Affected {
        let mut affected = Affected::default();
        affected.lists.extend(self.lists.keys().cloned());
        self.lists.clear();
        for object in objects {
            affected.lists.extend(self.put_list(object).lists);
        }
        affected
    }

    /// Adds or updates an ImageListPullJob.
    pub fn put_list(&mut self, object: &Object) -> Affected {
        let Some((revision, list)) = parse::<ImageListPullJob>(object) else {
            return Affected::default();
        };
        let key = list_key(&list);
        if self.lists.get(&key).is_some_and(|c| c.revision > revision) {
            return Affected::default();
        }
        self.lists.insert(
            key.clone(),
            Cached {
                object: Arc::new(list),
                revision,
            },
        );
        Affected {
            lists: BTreeSet::from([key]),
            ..Affected::default()
        }
    }

    /// Removes a deleted ImageListPullJob.
    pub fn delete_list(&mut self, object: &Object) -> Affected {
        let Some((revision, list)) = parse::<ImageListPullJob>(object) else {
            return Affected::default();
        };
        let key = list_key(&list);
        if self.lists.get(&key).is_some_and(|c| c.revision > revision) {
            return Affected::default();
        }
        self.lists.remove(&key);
        Affected {
            lists: BTreeSet::from([key]),
            ..Affected::default()
        }
    }

    /// Removes a deleted job (unless the cache already holds a newer one).
    pub fn delete_job(&mut self, object: &Object) -> Affected {
        let Some((revision, job)) = parse::<ImagePullJob>(object) else {
            return Affected::default();
        };
        let key = job_key(&job);
        if self.jobs.get(&key).is_some_and(|c| c.revision > revision) {
            return Affected::default();
        }
        let lists = self.unindex_child(&key);
        let readiness_of_all =
            readiness_changed(self.jobs.remove(&key).as_ref().map(|c| &*c.object), None);
        Affected {
            jobs: BTreeSet::from([key]),
            lists,
            readiness_of_all,
            ..Affected::default()
        }
    }

    /// Replaces every NodeImage with `objects` (a relist).
    pub fn replace_nodes(&mut self, objects: &[Object]) -> Affected {
        self.nodes.clear();
        self.nodes_by_owner.clear();
        let mut nodes = BTreeSet::new();
        for object in objects {
            nodes.extend(self.put_node(object).nodes);
        }
        Affected {
            all_jobs: true,
            nodes,
            ..Affected::default()
        }
    }

    /// Whether `owner` (an owner reference on a NodeImage tag) names a cached job with that
    /// uid.
    pub fn owner_is_live(&self, namespace: &str, name: &str, uid: &str) -> bool {
        let key = JobKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.jobs
            .get(&key)
            .is_some_and(|job| job.object.metadata.uid.as_deref() == Some(uid))
    }

    /// Adds or updates a NodeImage (ignored when older than the cached one); the affected
    /// jobs are the owners of the tags whose spec or status changed, or every job when the
    /// node is new or its labels changed.
    pub fn put_node(&mut self, object: &Object) -> Affected {
        let Some((revision, node)) = parse::<NodeImage>(object) else {
            return Affected::default();
        };
        let name = node.metadata.name.clone().unwrap_or_default();
        let old = self.nodes.get(&name).cloned();
        if old.as_ref().is_some_and(|c| c.revision > revision) {
            return Affected::default();
        }
        let affected = match &old {
            None => Affected {
                jobs: owners(&node).collect(),
                all_jobs: true,
                nodes: BTreeSet::from([name.clone()]),
                ..Affected::default()
            },
            Some(old) => Affected {
                jobs: changed_tag_owners(&old.object, &node),
                all_jobs: old.object.metadata.labels != node.metadata.labels,
                nodes: BTreeSet::from([name.clone()]),
                ..Affected::default()
            },
        };
        if let Some(old) = &old {
            self.unindex(&name, &old.object);
        }
        for owner in owners(&node) {
            self.nodes_by_owner
                .entry(owner)
                .or_default()
                .insert(name.clone());
        }
        self.nodes.insert(
            name,
            Cached {
                object: Arc::new(node),
                revision,
            },
        );
        affected
    }

    /// Removes a deleted NodeImage (unless the cache already holds a newer one).
    pub fn delete_node(&mut self, object: &Object) -> Affected {
        let Some((revision, node)) = parse::<NodeImage>(object) else {
            return Affected::default();
        };
        let name = node.metadata.name.clone().unwrap_or_default();
        match self.nodes.get(&name) {
            Some(cached) if cached.revision <= revision => {
                let old = self.nodes.remove(&name).expect("present");
                self.unindex(&name, &old.object);
                Affected {
                    all_jobs: true,
                    ..Affected::default()
                }
            }
            _ => Affected::default(),
        }
    }

    fn unindex(&mut self, name: &str, node: &NodeImage) {
        for owner in owners(node) {
            if let Some(nodes) = self.nodes_by_owner.get_mut(&owner) {
                nodes.remove(name);
                if nodes.is_empty() {
                    self.nodes_by_owner.remove(&owner);
                }
            }
        }
    }
}

/// The key of `job`.
/// Whether a job going from `old` to `new` (`None`: absent) can change a node's ImagesReady
/// condition: it is or was required, and it came, went, or changed its annotations, spec,
/// uid, deletion or completion.
fn readiness_changed(old: Option<&ImagePullJob>, new: Option<&ImagePullJob>) -> bool {
    let required = |job: Option<&ImagePullJob>| job.is_some_and(images_ready::is_required);
    if !required(old) && !required(new) {
        return false;
    }
    let (Some(old), Some(new)) = (old, new) else {
        return true;
    };
    let completion =
        |job: &ImagePullJob| job.status.as_ref().and_then(|s| s.completion_time.clone());
    old.metadata.annotations != new.metadata.annotations
        || old.metadata.uid != new.metadata.uid
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || old.spec != new.spec
        || completion(old) != completion(new)
}

pub fn job_key(job: &ImagePullJob) -> JobKey {
    JobKey {
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
    }
}

/// The key of `list`.
pub fn list_key(list: &ImageListPullJob) -> JobKey {
    JobKey {
        namespace: list.metadata.namespace.clone().unwrap_or_default(),
        name: list.metadata.name.clone().unwrap_or_default(),
    }
}

/// The ImageListPullJob that controls `job`, if any.
fn parent_list(job: &ImagePullJob) -> Option<JobKey> {
    job.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.kind == LIST_JOB_KIND && owner.controller == Some(true))
        .map(|owner| JobKey {
            namespace: job.metadata.namespace.clone().unwrap_or_default(),
            name: owner.name.clone(),
        })
}

/// The ImagePullJobs owning any tag of `node`.
fn owners(node: &NodeImage) -> impl Iterator<Item = JobKey> + '_ {
    node.spec.images.values().flat_map(image_owners)
}

fn image_owners(image: &ImageSpec) -> impl Iterator<Item = JobKey> + '_ {
    image
        .tags
        .iter()
        .flat_map(|tag| tag.owner_references.iter())
        .filter(|owner| owner.kind.as_deref() == Some(JOB_KIND))
        .map(|owner| JobKey {
            namespace: owner.namespace.clone().unwrap_or_default(),
            name: owner.name.clone().unwrap_or_default(),
        })
}

/// Owners (before and after) of every tag whose spec entry or status entry changed.
fn changed_tag_owners(old: &NodeImage, new: &NodeImage) -> BTreeSet<JobKey> {
    let mut affected = BTreeSet::new();
    let images: BTreeSet<&String> = old
        .spec
        .images
        .keys()
        .chain(new.spec.images.keys())
        .collect();
    for image in images {
        let old_spec = old.spec.images.get(image);
        let new_spec = new.spec.images.get(image);
        let old_status = old
            .status
            .as_ref()
            .and_then(|s| s.image_statuses.get(image));
        let new_status = new
            .status
            .as_ref()
            .and_then(|s| s.image_statuses.get(image));
        if old_spec == new_spec && old_status == new_status {
            continue;
        }
        affected.extend(old_spec.into_iter().flat_map(image_owners));
        affected.extend(new_spec.into_iter().flat_map(image_owners));
    }
    affected
}

fn parse<T: serde::de::DeserializeOwned>(object: &Object) -> Option<(Revision, T)> {
    let revision = object.resource_version().parse::<Revision>().ok()?;
    match serde_json::from_value::<T>((*object.value()).clone()) {
        Ok(value) => Some((revision, value)),
        Err(err) => {
            tracing::warn!(name = object.name(), %err, "scheduler: skipping an unreadable object");
            None
        }
    }
}
