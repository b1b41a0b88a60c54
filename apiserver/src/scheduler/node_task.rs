//! A job's task on one node, as it lives in the node's NodeImage: the image's tag entry in
//! the spec with the job among its owners, and the matching status entry the agent writes.
//! Pure functions: the reconciler decides, these edit and read NodeImages.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prepull_api::NodeImage;
use prepull_api::job_template::{ImagePullPolicy, SandboxConfig};
use prepull_api::node_image::{ImagePullPhase, ImageTagPullPolicy, ImageTagSpec, ReferenceObject};

use prepull_api::defaults::{DEFAULT_BACKOFF_LIMIT, DEFAULT_TIMEOUT_SECONDS};
use prepull_api::{ApiVersion, ImagePullJob};

use super::cache::{JOB_KIND, JobKey};

/// Added to a finished tag's lifetime on the node, as OpenKruise does.
pub const TAG_TTL_GRACE_SECONDS: i32 = 300;

/// What a job asks of each node it targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// `spec.images` key: the image's familiar name.
    pub image: String,
    /// The tag (or digest) within it.
    pub tag: String,
    /// The job, as an owner reference.
    pub owner: ObjectReference,
    pub pull_policy: ImageTagPullPolicy,
    pub image_pull_policy: ImagePullPolicy,
    /// Secrets in the job's namespace.
    pub pull_secrets: Vec<ReferenceObject>,
    pub sandbox_config: Option<SandboxConfig>,
}

/// The task `job` hands to each node.
pub fn task_for(job: &ImagePullJob, image: String, tag: String, ttl_grace_seconds: i32) -> Task {
    let template = &job.spec.template;
    let pull = template.pull_policy.clone().unwrap_or_default();
    let timeout = pull.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    let backoff = pull.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let completion = &template.completion_policy;
    let ttl = completion
        .ttl_seconds_after_finished
        .or_else(|| {
            completion
                .active_deadline_seconds
                .map(|d| i32::try_from(d).unwrap_or(i32::MAX))
        })
        .unwrap_or_else(|| timeout.saturating_mul(backoff.max(1)))
        .saturating_add(ttl_grace_seconds);
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    Task {
        image,
        tag,
        owner: ObjectReference {
            api_version: Some(ApiVersion::PREFERRED.api_version().to_owned()),
            kind: Some(JOB_KIND.to_owned()),
            name: job.metadata.name.clone(),
            namespace: Some(namespace.clone()),
            uid: job.metadata.uid.clone(),
            ..ObjectReference::default()
        },
        pull_policy: ImageTagPullPolicy {
            timeout_seconds: Some(timeout),
            backoff_limit: Some(backoff),
            ttl_seconds_after_finished: Some(ttl),
            active_deadline_seconds: completion.active_deadline_seconds,
        },
        image_pull_policy: template
            .image_pull_policy
            .clone()
            .unwrap_or(ImagePullPolicy::IfNotPresent),
        pull_secrets: template
            .pull_secrets
            .iter()
            .map(|name| ReferenceObject {
                namespace: namespace.clone(),
                name: name.clone(),
                mode: String::new(),
            })
            .collect(),
        sandbox_config: super::stall_timeout::sandbox_config_with_stall_timeout(job),
    }
}

/// How a job's task stands on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// The node has no tag entry owned by this job.
    Unassigned,
    /// Assigned, no result at the current version yet.
    Running,
    Succeeded,
    /// The agent's message.
    Failed(String),
}

/// The state of the task for `image`:`tag` owned by the job with `uid` on `node`. A result
/// counts only when the status entry's version equals the spec entry's.
pub fn task_state(node: &NodeImage, image: &str, tag: &str, uid: &str) -> TaskState {
    let Some(spec) = node
        .spec
        .images
        .get(image)
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
    else {
        return TaskState::Unassigned;
    };
    if !spec
        .owner_references
        .iter()
        .any(|owner| owner.uid.as_deref() == Some(uid))
    {
        return TaskState::Unassigned;
    }
    let status = node
        .status
        .as_ref()
        .and_then(|s| s.image_statuses.get(image))
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag))
        .filter(|status| status.version == spec.version);
    match status.map(|s| (&s.phase, &s.message)) {
        Some((ImagePullPhase::Succeeded, _)) => TaskState::Succeeded,
        Some((ImagePullPhase::Failed, message)) => TaskState::Failed(message.clone()),
        _ => TaskState::Running,
    }
}

/// Adds `task` to `node`: a new tag entry, or joining the existing one (owner added, version
/// bumped so the node pulls again for the newcomer, the most permissive pull policy of the
/// owners). Returns whether anything changed.
pub fn add_task(node: &mut NodeImage, task: &Task, now: &Time) -> bool {
    let last_status_version = node
        .status
        .as_ref()
        .and_then(|s| s.image_statuses.get(&task.image))
        .and_then(|i| i.tags.iter().find(|t| t.tag == task.tag))
        .map_or(0, |t| t.version);
    let image = node.spec.images.entry(task.image.clone()).or_default();
    for secret in &task.pull_secrets {
        if !image.pull_secrets.contains(secret) {
            image.pull_secrets.push(secret.clone());
        }
    }
    if image.sandbox_config.is_none() {
        image.sandbox_config.clone_from(&task.sandbox_config);
    }
    match image.tags.iter_mut().find(|t| t.tag == task.tag) {
        Some(existing) => {
            if existing
                .owner_references
                .iter()
                .any(|owner| owner.uid == task.owner.uid)
            {
                return false;
            }
            existing.owner_references.push(task.owner.clone());
            existing.version = existing.version.saturating_add(1);
            let policy = existing.pull_policy.get_or_insert_with(Default::default);
            *policy = most_permissive(policy, &task.pull_policy);
            if task.image_pull_policy == ImagePullPolicy::Always {
                existing.image_pull_policy = Some(ImagePullPolicy::Always);
            }
        }
        None => {
            image.tags.push(ImageTagSpec {
                tag: task.tag.clone(),
                created_at: Some(now.clone()),
                pull_policy: Some(task.pull_policy.clone()),
                owner_references: vec![task.owner.clone()],
                // Past any result the agent still reports for an earlier task of this tag.
                version: last_status_version.saturating_add(1),
                image_pull_policy: Some(task.image_pull_policy.clone()),
            });
            image.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        }
    }
    true
}

/// Brings the tag entry of a running `task` up to date with its job's spec (a pull policy or
/// image pull policy changed while the job runs). The only owner sets the policy; among
/// several owners the most permissive wins, so a change never tightens another job's pull.
/// The version stays: a pull in flight is not restarted. Returns whether anything changed.
pub fn update_task(node: &mut NodeImage, task: &Task) -> bool {
    let Some(entry) = node
        .spec
        .images
        .get_mut(&task.image)
        .and_then(|i| i.tags.iter_mut().find(|t| t.tag == task.tag))
    else {
        return false;
    };
    let Some((policy, image_pull_policy)) = updated_policies(entry, task) else {
        return false;
    };
    entry.pull_policy = Some(policy);
    entry.image_pull_policy = Some(image_pull_policy);
    true
}

/// Whether [`update_task`] would change `node` (a read, for deciding to write).
pub fn task_outdated(node: &NodeImage, task: &Task) -> bool {
    node.spec
        .images
        .get(&task.image)
        .and_then(|i| i.tags.iter().find(|t| t.tag == task.tag))
        .is_some_and(|entry| updated_policies(entry, task).is_some())
}

/// The policies the tag `entry` owned by `task`'s job should have, when they differ from
/// what it has.
fn updated_policies(
    entry: &ImageTagSpec,
    task: &Task,
) -> Option<(ImageTagPullPolicy, ImagePullPolicy)> {
    if !entry
        .owner_references
        .iter()
        .any(|owner| owner.uid == task.owner.uid)
    {
        return None;
    }
    let wanted = if entry.owner_references.len() == 1 {
        (task.pull_policy.clone(), task.image_pull_policy.clone())
    } else {
        let current = entry.pull_policy.clone().unwrap_or_default();
        let image_pull_policy = if task.image_pull_policy == ImagePullPolicy::Always {
            ImagePullPolicy::Always
        } else {
            entry
                .image_pull_policy
                .clone()
                .unwrap_or(ImagePullPolicy::IfNotPresent)
        };
        (
            most_permissive(&current, &task.pull_policy),
            image_pull_policy,
        )
    };
    let unchanged = entry.pull_policy.as_ref() == Some(&wanted.0)
        && entry.image_pull_policy.as_ref() == Some(&wanted.1);
    (!unchanged).then_some(wanted)
}

/// Removes the job `key` from every tag of `node` it owns, except as the owner with uid
/// `keep_uid` (the live job of that name, if any). Returns whether anything changed.
pub fn remove_owner(node: &mut NodeImage, key: &JobKey, keep_uid: Option<&str>) -> bool {
    drop_owners(node, |owner| {
        owner.kind.as_deref() == Some(JOB_KIND)
            && owner.namespace.as_deref().unwrap_or_default() == key.namespace
            && owner.name.as_deref().unwrap_or_default() == key.name
            && owner.uid.as_deref() != keep_uid
    })
}

/// Removes the job with `uid` from every tag of `node`. Returns whether anything changed.
pub fn remove_job(node: &mut NodeImage, uid: &str) -> bool {
    drop_owners(node, |owner| owner.uid.as_deref() == Some(uid))
}

/// Drops the owner references `drop` picks from every tag of `node`. A tag that loses its
/// last owner goes, and an image left without tags; a tag that never had an owner (added by
/// hand) stays. Returns whether anything changed.
fn drop_owners(node: &mut NodeImage, drop: impl Fn(&ObjectReference) -> bool) -> bool {
    let mut changed = false;
    for image in node.spec.images.values_mut() {
        let mut orphaned = Vec::new();
        for tag in &mut image.tags {
            let before = tag.owner_references.len();
            tag.owner_references.retain(|owner| !drop(owner));
            if tag.owner_references.len() != before {
                changed = true;
                if tag.owner_references.is_empty() {
                    orphaned.push(tag.tag.clone());
                }
            }
        }
        image.tags.retain(|tag| !orphaned.contains(&tag.tag));
    }
    node.spec.images.retain(|_, image| !image.tags.is_empty());
    changed
}

/// Whether `node` reports a result (Succeeded or Failed) for `image`:`tag` at `version`.
pub fn tag_finished(node: &NodeImage, image: &str, tag: &str, version: i64) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.image_statuses.get(image))
        .and_then(|i| i.tags.iter().find(|t| t.tag == tag && t.version == version))
        .is_some_and(|status| {
            matches!(
                status.phase,
                ImagePullPhase::Succeeded | ImagePullPhase::Failed
            )
        })
}

/// When the task `image`:`tag` on `node` last finished (its status entry's completionTime,
/// at the spec's version).
pub fn finished_at(node: &NodeImage, image: &str, tag: &str) -> Option<Timestamp> {
    let spec = node
        .spec
        .images
        .get(image)?
        .tags
        .iter()
        .find(|t| t.tag == tag)?;
    let status = node
        .status
        .as_ref()?
        .image_statuses
        .get(image)?
        .tags
        .iter()
        .find(|t| t.tag == tag && t.version == spec.version)?;
    status.completion_time.as_ref().map(|t| t.0)
}

/// Starts a new round of `image`:`tag` on `node` (the agent pulls again) if the spec is still
/// at `version`. Returns whether it did.
pub fn bump_version(node: &mut NodeImage, image: &str, tag: &str, version: i64) -> bool {
    let Some(entry) = node
        .spec
        .images
        .get_mut(image)
        .and_then(|i| i.tags.iter_mut().find(|t| t.tag == tag))
    else {
        return false;
    };
    if entry.version != version {
        return false;
    }
    entry.version = entry.version.saturating_add(1);
    true
}

/// The larger of each limit; an unset deadline is no limit, so it wins.
fn most_permissive(a: &ImageTagPullPolicy, b: &ImageTagPullPolicy) -> ImageTagPullPolicy {
    ImageTagPullPolicy {
        timeout_seconds: a.timeout_seconds.max(b.timeout_seconds),
        backoff_limit: a.backoff_limit.max(b.backoff_limit),
        ttl_seconds_after_finished: a
            .ttl_seconds_after_finished
            .max(b.ttl_seconds_after_finished),
        active_deadline_seconds: match (a.active_deadline_seconds, b.active_deadline_seconds) {
            (Some(x), Some(y)) => Some(x.max(y)),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(uid: &str, timeout: i32, deadline: Option<i64>) -> Task {
        Task {
            image: "nginx".into(),
            tag: "1.27".into(),
            owner: ObjectReference {
                api_version: Some("apps.kruise.io/v1alpha1".into()),
                kind: Some(JOB_KIND.into()),
                name: Some(format!("job-{uid}")),
                namespace: Some("default".into()),
                uid: Some(uid.into()),
                ..ObjectReference::default()
            },
            pull_policy: ImageTagPullPolicy {
                timeout_seconds: Some(timeout),
                backoff_limit: Some(3),
                ttl_seconds_after_finished: Some(300),
                active_deadline_seconds: deadline,
            },
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            pull_secrets: vec![],
            sandbox_config: None,
        }
    }

    #[test]
    fn joining_a_tag_adds_the_owner_bumps_the_version_and_keeps_the_most_permissive_policy() {
        let mut node = NodeImage::default();
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        assert!(add_task(&mut node, &task("a", 60, Some(100)), &now));
        assert!(!add_task(&mut node, &task("a", 60, Some(100)), &now));
        let mut second = task("b", 120, Some(50));
        second.image_pull_policy = ImagePullPolicy::Always;
        assert!(add_task(&mut node, &second, &now));
        let tag = &node.spec.images["nginx"].tags[0];
        assert_eq!(tag.owner_references.len(), 2);
        assert_eq!(tag.version, 2);
        let policy = tag.pull_policy.as_ref().unwrap();
        assert_eq!(policy.timeout_seconds, Some(120));
        assert_eq!(policy.active_deadline_seconds, Some(100));
        assert_eq!(tag.image_pull_policy, Some(ImagePullPolicy::Always));
        assert_eq!(task_state(&node, "nginx", "1.27", "b"), TaskState::Running);
        assert_eq!(
            task_state(&node, "nginx", "1.27", "c"),
            TaskState::Unassigned
        );
    }

    #[test]
    fn a_changed_pull_policy_reaches_a_running_tag_without_restarting_it() {
        let mut node = NodeImage::default();
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        add_task(&mut node, &task("a", 60, None), &now);
        let mut changed = task("a", 300, None);
        changed.image_pull_policy = ImagePullPolicy::Always;
        assert!(update_task(&mut node, &changed));
        assert!(!update_task(&mut node, &changed));
        let tag = &node.spec.images["nginx"].tags[0];
        assert_eq!(tag.pull_policy.as_ref().unwrap().timeout_seconds, Some(300));
        assert_eq!(tag.image_pull_policy, Some(ImagePullPolicy::Always));
        assert_eq!(tag.version, 1);
        // With a second owner, lowering the timeout does not tighten the other job's pull.
        add_task(&mut node, &task("b", 60, None), &now);
        assert!(!update_task(&mut node, &task("a", 30, None)));
        assert!(!update_task(&mut node, &task("c", 30, None)));
    }

    #[test]
    fn removing_the_last_owner_removes_the_tag_and_the_image() {
        let mut node = NodeImage::default();
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        add_task(&mut node, &task("a", 60, None), &now);
        add_task(&mut node, &task("b", 60, None), &now);
        let key_a = JobKey {
            namespace: "default".into(),
            name: "job-a".into(),
        };
        assert!(remove_owner(&mut node, &key_a, None));
        assert_eq!(node.spec.images["nginx"].tags[0].owner_references.len(), 1);
        let key_b = JobKey {
            namespace: "default".into(),
            name: "job-b".into(),
        };
        assert!(!remove_owner(&mut node, &key_b, Some("b")));
        assert!(remove_owner(&mut node, &key_b, None));
        assert!(node.spec.images.is_empty());
    }

    #[test]
    fn a_tag_added_by_hand_without_owners_survives_the_removal_of_a_job() {
        let mut node = NodeImage::default();
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        add_task(&mut node, &task("a", 60, None), &now);
        node.spec
            .images
            .get_mut("nginx")
            .unwrap()
            .tags
            .push(ImageTagSpec {
                tag: "by-hand".into(),
                ..ImageTagSpec::default()
            });
        assert!(remove_job(&mut node, "a"));
        let tags: Vec<&str> = node.spec.images["nginx"]
            .tags
            .iter()
            .map(|t| t.tag.as_str())
            .collect();
        assert_eq!(tags, ["by-hand"]);
    }
}
