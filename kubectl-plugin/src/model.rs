//! What the commands show, computed from the objects alone (no IO): each node's pull of a
//! job's image(s), and which nodes hold an image.

use std::collections::BTreeSet;

use jiff::Timestamp;
use prepull_api::node_image::{ImageTagSpec, ImageTagStatus};
use prepull_api::reference::ImageReference as Reference;
use prepull_api::{ImageListPullJob, ImagePullJob, NodeImage};
use serde::Serialize;

use crate::client::Job;

/// A time as Kubernetes writes it (RFC 3339, UTC).
fn rfc3339<S: serde::Serializer>(
    time: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_str(&time.to_string()),
        None => serializer.serialize_none(),
    }
}

/// One node's pull of one image for a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePull {
    pub node: String,
    pub image: String,
    /// Waiting, Pulling, Succeeded, Failed; `Missing` for a failed node without a NodeImage.
    pub phase: String,
    /// Percent, 0 to 100.
    pub progress: i32,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    pub start_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    pub completion_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A job and its pulls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    /// `ImagePullJob` or `ImageListPullJob`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub images: Vec<String>,
    pub desired: i32,
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    /// The job has a completion time.
    pub completed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Sorted by image, then node.
    pub pulls: Vec<NodePull>,
}

impl JobReport {
    /// The report of `job` given every NodeImage.
    pub fn new(job: &Job, node_images: &[NodeImage]) -> JobReport {
        match job {
            Job::Pull(job) => {
                let mut report = pull_job_report(job, node_images);
                report
                    .pulls
                    .sort_by(|a, b| (&a.image, &a.node).cmp(&(&b.image, &b.node)));
                report
            }
            Job::ListPull(job, children) => list_job_report(job, children, node_images),
        }
    }

    /// Pulls that failed (or whose node is missing).
    pub fn failures(&self) -> impl Iterator<Item = &NodePull> {
        self.pulls
            .iter()
            .filter(|pull| pull.phase == "Failed" || pull.phase == "Missing")
    }
}

fn pull_job_report(job: &ImagePullJob, node_images: &[NodeImage]) -> JobReport {
    let status = job.status.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let image = job.spec.image.clone();
    let mut pulls = Vec::new();
    if let Ok(reference) = Reference::parse(&image) {
        let (name, tag) = reference.name_and_tag();
        for node_image in node_images {
            if let Some(pull) = node_pull(node_image, &name, &tag, &uid, &image) {
                pulls.push(pull);
            }
        }
    }
    // Nodes the job names (spec.selector.names) or lists as failed that no NodeImage covers:
    // no such node (the scheduler skips names without a node), or its NodeImage is gone.
    let known: BTreeSet<&str> = node_images
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let named = job
        .spec
        .template
        .selector
        .as_ref()
        .and_then(|s| s.names.as_ref())
        .into_iter()
        .flatten()
        .map(|node| {
            (
                node,
                "the job names this node, but no NodeImage has its name",
            )
        });
    let failed = status.failed_nodes.iter().map(|node| {
        (
            node,
            "the job lists this node as failed, but it has no NodeImage",
        )
    });
    let mut missing = BTreeSet::new();
    for (node, message) in named.chain(failed) {
        if !known.contains(node.as_str()) && missing.insert(node.clone()) {
            pulls.push(NodePull {
                node: node.clone(),
                image: image.clone(),
                phase: "Missing".into(),
                progress: 0,
                start_time: None,
                completion_time: None,
                message: message.into(),
            });
        }
    }
    JobReport {
        kind: "ImagePullJob".into(),
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
        images: vec![image],
        desired: status.desired,
        active: status.active,
        succeeded: status.succeeded,
        failed: status.failed,
        completed: status.completion_time.is_some(),
        message: status.message,
        pulls,
    }
}

fn list_job_report(
    job: &ImageListPullJob,
    children: &[ImagePullJob],
    node_images: &[NodeImage],
) -> JobReport {
    let status = job.status.clone().unwrap_or_default();
    let mut pulls: Vec<NodePull> = children
        .iter()
        .flat_map(|child| pull_job_report(child, node_images).pulls)
        .collect();
    pulls.sort_by(|a, b| (&a.image, &a.node).cmp(&(&b.image, &b.node)));
    let failed_images = status.failed_image_statuses.len();
    JobReport {
        kind: "ImageListPullJob".into(),
        namespace: job.metadata.namespace.clone().unwrap_or_default(),
        name: job.metadata.name.clone().unwrap_or_default(),
        images: job.spec.images.clone(),
        desired: status.desired,
        active: status.active,
        succeeded: status.succeeded,
        failed: i32::try_from(failed_images).unwrap_or(i32::MAX),
        completed: status.completion_time.is_some(),
        message: status
            .failed_image_statuses
            .iter()
            .map(|failed| format!("{}: {}", failed.name, failed.message))
            .collect::<Vec<_>>()
            .join("; "),
        pulls,
    }
}

/// The node's pull of `name`/`tag` for the job with `uid`, if the job put it there.
fn node_pull(
    node_image: &NodeImage,
    name: &str,
    tag: &str,
    uid: &str,
    image: &str,
) -> Option<NodePull> {
    let spec = node_image.spec.images.get(name)?;
    let owned = spec.tags.iter().any(|t| {
        t.tag == tag
            && t.owner_references
                .iter()
                .any(|o| o.uid.as_deref() == Some(uid))
    });
    if !owned {
        return None;
    }
    let status = tag_status(node_image, name, tag);
    Some(NodePull {
        node: node_image.metadata.name.clone().unwrap_or_default(),
        image: image.to_string(),
        phase: status
            .map(|s| s.phase.as_str().to_string())
            .unwrap_or_else(|| "Waiting".into()),
        progress: status.map(|s| s.progress.clamp(0, 100)).unwrap_or(0),
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        completion_time: status.and_then(|s| s.completion_time.as_ref()).map(|t| t.0),
        message: status.map(|s| s.message.clone()).unwrap_or_default(),
    })
}

fn tag_status<'a>(node_image: &'a NodeImage, name: &str, tag: &str) -> Option<&'a ImageTagStatus> {
    node_image
        .status
        .as_ref()?
        .image_statuses
        .get(name)?
        .tags
        .iter()
        .find(|t| t.tag == tag)
}

/// One tag of an image on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeTag {
    pub node: String,
    pub image: String,
    pub tag: String,
    /// The phase of its last pull; empty when the agent has not reported it yet.
    pub phase: String,
    pub progress: i32,
    #[serde(rename = "imageID", skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// `namespace/name` of the jobs holding the tag there.
    pub jobs: Vec<String>,
}

/// Every node's tags of `image` (`repo`: every tag; `repo:tag` or `repo@digest`: that one),
/// sorted by node and tag. `None` when `image` is not an image reference.
pub fn nodes_holding(image: &str, node_images: &[NodeImage]) -> Option<Vec<NodeTag>> {
    let reference = Reference::parse(image).ok()?;
    let name = reference.familiar_name();
    let only_tag = match (reference.digest(), reference.tag()) {
        (Some(digest), _) => Some(digest.to_string()),
        (None, Some(tag)) => Some(tag.to_string()),
        (None, None) => None,
    };
    let mut rows = Vec::new();
    for node_image in node_images {
        let node = node_image.metadata.name.clone().unwrap_or_default();
        let spec_tags: Vec<&ImageTagSpec> = node_image
            .spec
            .images
            .get(&name)
            .map(|spec| spec.tags.iter().collect())
            .unwrap_or_default();
        let mut tags: BTreeSet<String> = spec_tags.iter().map(|t| t.tag.clone()).collect();
        if let Some(status) = node_image
            .status
            .as_ref()
            .and_then(|s| s.image_statuses.get(&name))
        {
            tags.extend(status.tags.iter().map(|t| t.tag.clone()));
        }
        for tag in tags {
            if only_tag.as_ref().is_some_and(|only| *only != tag) {
                continue;
            }
            let status = tag_status(node_image, &name, &tag);
            let jobs = spec_tags
                .iter()
                .filter(|t| t.tag == tag)
                .flat_map(|t| t.owner_references.iter())
                .map(|o| {
                    format!(
                        "{}/{}",
                        o.namespace.as_deref().unwrap_or_default(),
                        o.name.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            rows.push(NodeTag {
                node: node.clone(),
                image: name.clone(),
                tag,
                phase: status
                    .map(|s| s.phase.as_str().to_string())
                    .unwrap_or_default(),
                progress: status.map(|s| s.progress.clamp(0, 100)).unwrap_or(0),
                image_id: status.map(|s| s.image_id.clone()).unwrap_or_default(),
                jobs,
            });
        }
    }
    rows.sort_by(|a, b| (&a.node, &a.tag).cmp(&(&b.node, &b.tag)));
    Some(rows)
}
