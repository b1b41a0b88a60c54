//! The ImagesReady condition of every NodeImage, in both modes: whether every ImagePullJob
//! required for readiness (annotation [`REQUIRED_FOR_READINESS`]` = "true"`) that targets the
//! node has succeeded there. Cluster mode's readiness taint
//! ([`crate::main_cluster::readiness_taints`]) follows it.
//!
//! - True, `NoRequiredImages`: no required job targets the node.
//! - True, `RequiredImagesPulled`: each one succeeded there (a required job that completed
//!   without ever reaching the node, a `type: Always` job finished before it joined, no longer
//!   counts).
//! - False, `RequiredImagesPulling`: some have not finished there; the message names them.
//! - False, `RequiredImageFailed`: some failed there; the message names them and the cause.
//!
//! Once True, a pull of an image the node already held (a Never job's daily re-pull, or a
//! required job joining a tag another job pulled there: the tag's version is then past 1)
//! keeps it True; a required job created later for an image new to the node makes it False
//! until it succeeded, and any failure does.
//!
//! Written through `/status` with the NodeImage's resourceVersion (the agent's own status
//! patches never name `conditions`, and a node may not change them, see
//! [`crate::auth::node_restriction`]), and only when it changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::job_condition::ConditionStatus;
use prepull_api::node_image_condition::{
    NodeImageCondition, NodeImageConditionType, REQUIRED_FOR_READINESS, reason,
};
use prepull_api::reference::ImageReference;
use prepull_api::{ImagePullJob, NodeImage};

use super::cache::JobKey;
use super::node_task::{self, TaskState};
use super::node_update::update_node;
use super::targets::targets_node;
use super::{Context, Work};
use crate::http::status::ApiError;
use crate::registry::Subresource;

/// Jobs named in a condition's message; the rest are counted.
const NAMED_IN_MESSAGE: usize = 5;

/// How a node's required images stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every required job succeeded there; how many target it.
    Ready(usize),
    /// Required jobs that have not finished there yet.
    Waiting(Vec<JobKey>),
    /// Required jobs that failed there.
    Failed(Vec<Failure>),
}

/// A required job that failed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub job: JobKey,
    pub image: String,
    /// The agent's (or scheduler's) message on the tag.
    pub message: String,
}

/// Whether `job` is required for the readiness of the nodes it targets.
pub fn is_required(job: &ImagePullJob) -> bool {
    job.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REQUIRED_FOR_READINESS))
        .is_some_and(|value| value == "true")
}

/// The verdict for a node with `node_image`, over the required `jobs` that target it;
/// `ready_before`: its condition says True, so a pull of a tag already pulled there (version
/// past 1) does not count as waiting.
pub fn verdict<'a>(
    node_image: &NodeImage,
    jobs: impl IntoIterator<Item = (&'a JobKey, &'a ImagePullJob)>,
    ready_before: bool,
) -> Verdict {
    let mut counted: usize = 0;
    let mut waiting = Vec::new();
    let mut failures = Vec::new();
    for (key, job) in jobs {
        counted = counted.saturating_add(1);
        let Ok(reference) = ImageReference::parse(&job.spec.image) else {
            continue;
        };
        let (image, tag) = reference.name_and_tag();
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        let completed = job
            .status
            .as_ref()
            .is_some_and(|s| s.completion_time.is_some());
        match node_task::task_state(node_image, &image, &tag, uid) {
            TaskState::Succeeded => {}
            TaskState::Failed(message) => failures.push(Failure {
                job: key.clone(),
                image: job.spec.image.clone(),
                message,
            }),
            TaskState::Unassigned if completed => {}
            TaskState::Running if ready_before && pulled_before(node_image, &image, &tag) => {}
            TaskState::Unassigned | TaskState::Running => waiting.push(key.clone()),
        }
    }
    if !failures.is_empty() {
        Verdict::Failed(failures)
    } else if !waiting.is_empty() {
        Verdict::Waiting(waiting)
    } else {
        Verdict::Ready(counted)
    }
}

/// Whether the tag's task on the node is past its first version: a re-pull, or a job that
/// joined a tag pulled there before.
fn pulled_before(node_image: &NodeImage, image: &str, tag: &str) -> bool {
    node_image
        .spec
        .images
        .get(image)
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
        .is_some_and(|t| t.version > 1)
}

/// The condition `verdict` gives, after `previous`.
pub fn condition(
    verdict: &Verdict,
    previous: Option<&NodeImageCondition>,
    now: &Time,
) -> NodeImageCondition {
    let (status, reason, message) = match verdict {
        Verdict::Ready(0) => (
            ConditionStatus::True,
            reason::NO_REQUIRED_IMAGES,
            "no ImagePullJob required for readiness targets this node".to_owned(),
        ),
        Verdict::Ready(jobs) => (
            ConditionStatus::True,
            reason::REQUIRED_IMAGES_PULLED,
            format!("all {jobs} required ImagePullJobs succeeded on this node"),
        ),
        Verdict::Waiting(jobs) => (
            ConditionStatus::False,
            reason::REQUIRED_IMAGES_PULLING,
            format!(
                "waiting for required ImagePullJob(s) {}",
                named(jobs.iter().map(ToString::to_string))
            ),
        ),
        Verdict::Failed(failures) => (
            ConditionStatus::False,
            reason::REQUIRED_IMAGE_FAILED,
            format!(
                "required ImagePullJob(s) failed on this node: {}",
                named(
                    failures
                        .iter()
                        .map(|f| format!("{} (image {}): {}", f.job, f.image, f.message))
                )
            ),
        ),
    };
    let last_transition_time = match previous {
        Some(previous) if previous.status == status => previous.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    NodeImageCondition {
        type_: NodeImageConditionType::ImagesReady,
        status,
        reason: reason.to_owned(),
        message,
        last_transition_time,
    }
}

/// The first [`NAMED_IN_MESSAGE`] of `items`, then how many more.
fn named(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let mut text: Vec<String> = items.take(NAMED_IN_MESSAGE).collect();
    if total > NAMED_IN_MESSAGE {
        text.push(format!(
            "and {} more",
            total.saturating_sub(NAMED_IN_MESSAGE)
        ));
    }
    text.join("; ")
}

/// `node_image`'s ImagesReady condition, if it has one.
pub fn images_ready(node_image: &NodeImage) -> Option<&NodeImageCondition> {
    node_image
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == NodeImageConditionType::ImagesReady)
}

/// Sets `wanted` as `node_image`'s ImagesReady condition; whether anything changed.
fn set(node_image: &mut NodeImage, wanted: &NodeImageCondition) -> bool {
    let status = node_image.status.get_or_insert_with(Default::default);
    match status
        .conditions
        .iter_mut()
        .find(|c| c.type_ == NodeImageConditionType::ImagesReady)
    {
        Some(existing) if existing.same_as(wanted) => false,
        Some(existing) => {
            *existing = wanted.clone();
            true
        }
        None => {
            status.conditions.push(wanted.clone());
            true
        }
    }
}

/// Brings NodeImage `name`'s ImagesReady condition up to date.
pub(super) async fn reconcile(ctx: &Context, name: &str) -> Result<(), ApiError> {
    let Some(node_image) = ctx.cache().node(name).map(|c| c.object) else {
        return Ok(());
    };
    if node_image.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    // Not judged before the node is in the inventory (cluster mode: its Node seen): no job
    // could be seen targeting it yet. The inventory's change queues it again.
    if ctx.nodes.node(name).is_none() {
        return Ok(());
    }
    let required = ctx.cache().required_jobs();
    let mut targeting: Vec<(&JobKey, &ImagePullJob)> = Vec::new();
    for (key, job) in &required {
        match targets_node(&job.spec.template, &key.namespace, name, ctx.nodes.as_ref()) {
            Some(true) => targeting.push((key, job.as_ref())),
            Some(false) => {}
            // Pods still being listed: queued again once they are.
            None => return Ok(()),
        }
    }
    let now = ctx.clock.now_time();
    let wanted = |node_image: &NodeImage| {
        let previous = images_ready(node_image);
        let ready_before = previous.is_some_and(|p| p.status == ConditionStatus::True);
        condition(
            &verdict(node_image, targeting.iter().copied(), ready_before),
            previous,
            &now,
        )
    };
    if images_ready(&node_image).is_some_and(|p| p.same_as(&wanted(&node_image))) {
        return Ok(());
    }
    update_node(ctx, name, Subresource::Status, |fresh| {
        let wanted = wanted(fresh);
        set(fresh, &wanted)
    })
    .await?;
    Ok(())
}

/// What made the NodeImages' conditions worth judging again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    /// A required job came, went or changed: every node.
    RequiredJob,
    /// The set of nodes or their labels: every node while any job is required, else those not
    /// judged yet (their Node may just have entered the inventory).
    Nodes,
    /// Pods (what `podSelector` targets): every node while any job is required.
    Pods,
}

/// Queues the NodeImages whose condition `trigger` may change.
pub(super) fn queue_all(ctx: &Context, trigger: Trigger) {
    let names: Vec<String> = {
        let cache = ctx.cache();
        let every = trigger == Trigger::RequiredJob || cache.has_required_jobs();
        if !every && trigger == Trigger::Pods {
            return;
        }
        cache
            .nodes()
            .filter(|n| every || images_ready(&n.object).is_none())
            .filter_map(|n| n.object.metadata.name.clone())
            .collect()
    };
    for name in names {
        ctx.queue.add(Work::Readiness(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, uid: &str, completed: bool) -> (JobKey, ImagePullJob) {
        let mut value = json!({
            "apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
            "metadata": {"name": name, "namespace": "default", "uid": uid,
                         "annotations": {REQUIRED_FOR_READINESS: "true"}},
            "spec": {"image": format!("registry.example/{name}:v1")},
        });
        if completed {
            value["status"] = json!({"completionTime": "2026-01-01T00:00:00Z"});
        }
        let key = JobKey {
            namespace: "default".to_owned(),
            name: name.to_owned(),
        };
        (key, serde_json::from_value(value).expect("job"))
    }

    /// A NodeImage with a tag per `(job, uid, phase)` (`None`: no result yet).
    fn node_image(tags: &[(&str, &str, Option<&str>)]) -> NodeImage {
        let mut spec = serde_json::Map::new();
        let mut status = serde_json::Map::new();
        for (name, uid, phase) in tags {
            let image = format!("registry.example/{name}");
            spec.insert(
                image.clone(),
                json!({"tags": [{"tag": "v1", "version": 1,
                    "ownerReferences": [{"apiVersion": "apps.kruise.io/v1alpha1",
                        "kind": "ImagePullJob", "name": name, "namespace": "default",
                        "uid": uid}]}]}),
            );
            if let Some(phase) = phase {
                status.insert(
                    image,
                    json!({"tags": [{"tag": "v1", "version": 1, "phase": phase,
                        "message": format!("{phase} here")}]}),
                );
            }
        }
        serde_json::from_value(json!({
            "apiVersion": "apps.kruise.io/v1alpha1", "kind": "NodeImage",
            "metadata": {"name": "n1"},
            "spec": {"images": spec},
            "status": {"desired": 0, "imageStatuses": status},
        }))
        .expect("node image")
    }

    fn now() -> Time {
        serde_json::from_value(json!("2026-02-01T00:00:00Z")).expect("time")
    }

    #[test]
    fn a_node_no_required_job_targets_is_ready() {
        let verdict = verdict(&node_image(&[]), [], false);
        assert_eq!(verdict, Verdict::Ready(0));
        let ready = condition(&verdict, None, &now());
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::True, reason::NO_REQUIRED_IMAGES)
        );
        assert_eq!(ready.last_transition_time, Some(now()));
    }

    #[test]
    fn ready_once_every_required_job_succeeded_there() {
        let (ka, a) = job("a", "ua", false);
        let (kb, b) = job("b", "ub", false);
        let running = node_image(&[("a", "ua", Some("Succeeded")), ("b", "ub", None)]);
        let waiting = verdict(&running, [(&ka, &a), (&kb, &b)], false);
        assert_eq!(waiting, Verdict::Waiting(vec![kb.clone()]));
        let pulling = condition(&waiting, None, &now());
        assert_eq!(pulling.status, ConditionStatus::False);
        assert_eq!(
            pulling.message,
            "waiting for required ImagePullJob(s) default/b"
        );
        let done = node_image(&[
            ("a", "ua", Some("Succeeded")),
            ("b", "ub", Some("Succeeded")),
        ]);
        assert_eq!(
            verdict(&done, [(&ka, &a), (&kb, &b)], false),
            Verdict::Ready(2)
        );
    }

    #[test]
    fn a_failed_required_pull_names_the_job_image_and_cause() {
        let (ka, a) = job("a", "ua", false);
        let failed = node_image(&[("a", "ua", Some("Failed"))]);
        let verdict = verdict(&failed, [(&ka, &a)], false);
        let condition = condition(&verdict, None, &now());
        assert_eq!(condition.reason, reason::REQUIRED_IMAGE_FAILED);
        assert_eq!(
            condition.message,
            "required ImagePullJob(s) failed on this node: default/a (image registry.example/a:v1): Failed here"
        );
    }

    #[test]
    fn a_job_not_yet_handed_to_the_node_waits_unless_it_completed_without_it() {
        let (ka, a) = job("a", "ua", false);
        assert!(matches!(
            verdict(&node_image(&[]), [(&ka, &a)], true),
            Verdict::Waiting(_)
        ));
        let (kc, c) = job("c", "uc", true);
        assert_eq!(
            verdict(&node_image(&[]), [(&kc, &c)], false),
            Verdict::Ready(1)
        );
    }

    #[test]
    fn a_re_pull_of_an_image_already_there_keeps_it_ready_but_a_new_image_does_not() {
        let (ka, a) = job("a", "ua", false);
        let mut again = node_image(&[("a", "ua", None)]);
        assert!(matches!(
            verdict(&again, [(&ka, &a)], true),
            Verdict::Waiting(_)
        ));
        again
            .spec
            .images
            .values_mut()
            .for_each(|i| i.tags[0].version = 2);
        assert_eq!(verdict(&again, [(&ka, &a)], true), Verdict::Ready(1));
        assert!(matches!(
            verdict(&again, [(&ka, &a)], false),
            Verdict::Waiting(_)
        ));
    }

    #[test]
    fn the_transition_time_moves_only_with_the_status() {
        let earlier: Time = serde_json::from_value(json!("2026-01-15T00:00:00Z")).expect("time");
        let ready = NodeImageCondition {
            last_transition_time: Some(earlier.clone()),
            ..condition(&Verdict::Ready(0), None, &now())
        };
        let still = condition(&Verdict::Ready(1), Some(&ready), &now());
        assert_eq!(still.reason, reason::REQUIRED_IMAGES_PULLED);
        assert_eq!(still.last_transition_time, Some(earlier));
        let (ka, _) = job("a", "ua", false);
        let waiting = condition(&Verdict::Waiting(vec![ka]), Some(&ready), &now());
        assert_eq!(waiting.status, ConditionStatus::False);
        assert_eq!(waiting.last_transition_time, Some(now()));
    }

    #[test]
    fn only_the_annotation_true_makes_a_job_required() {
        let (_, mut a) = job("a", "ua", false);
        assert!(is_required(&a));
        a.metadata.annotations =
            Some([(REQUIRED_FOR_READINESS.to_owned(), "yes".to_owned())].into());
        assert!(!is_required(&a));
    }

    #[test]
    fn a_message_names_five_jobs_and_counts_the_rest() {
        let keys: Vec<String> = (0..8).map(|i| format!("default/j{i}")).collect();
        assert_eq!(
            named(keys.into_iter()),
            "default/j0; default/j1; default/j2; default/j3; default/j4; and 3 more"
        );
    }
}
