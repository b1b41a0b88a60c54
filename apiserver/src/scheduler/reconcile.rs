//! The ImagePullJob reconciler: one pass over one job, from the cache, writing through the
//! registry. A pass is idempotent: it reads how the job's tasks stand on its target nodes,
//! hands out new tasks up to `parallelism`, writes the status when it changed, and schedules
//! the next time-driven pass (deadline, TTL). A job that is gone (or being deleted) is removed
//! from every NodeImage tag it owns.

use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use prepull_api::defaults::DEFAULT_PARALLELISM;
use prepull_api::job_template::CompletionPolicyType;
use prepull_api::reference::ImageReference;
use prepull_api::{ImagePullJob, Kind};
use tokio::time::{Duration, Instant};

use super::cache::JobKey;
use super::checked_time::{seconds_after, until};
use super::job_status::{self, Ending, Progress};
use super::node_task::{self, TaskState, task_for};
use super::node_update::update_node;
use super::repull;
use super::stale_tasks::{self, Verdict};
use super::status_write::patch_status;
use super::targets::resolve_targets;
use super::{Context, Work};
use crate::http::status::ApiError;
use crate::registry::{DeleteParams, Preconditions, Subresource};

/// Reconciles the job `key`.
pub async fn reconcile(ctx: &Context, key: &JobKey) -> Result<(), ApiError> {
    let job = ctx.cache().job(key);
    match job {
        Some(job) if job.object.metadata.deletion_timestamp.is_none() => {
            let uid = job.object.metadata.uid.clone().unwrap_or_default();
            // Tags still owned by an earlier job of the same name go.
            remove_from_nodes(ctx, key, Some(&uid)).await?;
            sync(ctx, key, &job.object).await
        }
        _ => {
            ctx.wake(ctx.budget.leave(key));
            remove_from_nodes(ctx, key, None).await
        }
    }
}

/// Removes the job `key` (except the live one with `keep_uid`) from every tag it owns.
async fn remove_from_nodes(
    ctx: &Context,
    key: &JobKey,
    keep_uid: Option<&str>,
) -> Result<(), ApiError> {
    let nodes = ctx.cache().nodes_owned_by(key);
    for node in nodes {
        update_node(ctx, &node, Subresource::Main, |image| {
            node_task::remove_owner(image, key, keep_uid)
        })
        .await?;
    }
    Ok(())
}

async fn sync(ctx: &Context, key: &JobKey, job: &ImagePullJob) -> Result<(), ApiError> {
    let previous = job.status.clone().unwrap_or_default();
    let now = ctx.clock.now();
    let now_time = Time(now);
    let template = &job.spec.template;
    if previous.completion_time.is_some() {
        ctx.wake(ctx.budget.leave(key));
        return expire(ctx, key, job, now).await;
    }
    let generation = job.metadata.generation;
    if template.pod_selector.is_some() && !ctx.nodes.supports_pod_selector() {
        ctx.wake(ctx.budget.leave(key));
        let status = job_status::pod_selector_unsupported(&previous, generation, &now_time);
        return write_status(ctx, key, job, status).await;
    }
    let reference = match ImageReference::parse(&job.spec.image) {
        Ok(reference) => reference,
        Err(err) => {
            tracing::warn!(job = %key, %err, "scheduler: job image does not parse");
            ctx.wake(ctx.budget.leave(key));
            return Ok(());
        }
    };
    let (image, tag) = reference.name_and_tag();
    let host = reference.domain().to_owned();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let Some(targets) = resolve_targets(template, &key.namespace, ctx.nodes.as_ref()) else {
        // Pods still being listed: the node source signals once they are known.
        return Ok(());
    };
    // A selector that changed while the job runs: nodes it no longer targets lose the task.
    let dropped: Vec<String> = ctx
        .cache()
        .nodes_owned_by(key)
        .into_iter()
        .filter(|node| !targets.contains(node))
        .collect();
    for node in dropped {
        update_node(ctx, &node, Subresource::Main, |image| {
            node_task::remove_job(image, &uid)
        })
        .await?;
    }
    let start_time = previous
        .start_time
        .clone()
        .unwrap_or_else(|| now_time.clone());
    let never = template.completion_policy.type_ == Some(CompletionPolicyType::Never);
    let deadline = template
        .completion_policy
        .active_deadline_seconds
        .filter(|_| !never)
        .map(|seconds| seconds_after(start_time.0, seconds));
    let deadline_passed = deadline.is_some_and(|d| now >= d);

    let mut progress = Progress {
        desired: targets.len(),
        ..Progress::default()
    };
    let mut unassigned = Vec::new();
    let mut running = Vec::new();
    let mut finished = Vec::new();
    {
        let cache = ctx.cache();
        for name in &targets {
            let state = cache.node(name).map_or(TaskState::Unassigned, |node| {
                node_task::task_state(&node.object, &image, &tag, &uid)
            });
            match state {
                TaskState::Unassigned => unassigned.push(name.clone()),
                TaskState::Running => {
                    progress.active = progress.active.saturating_add(1);
                    running.push(name.clone());
                }
                TaskState::Succeeded => {
                    progress.succeeded = progress.succeeded.saturating_add(1);
                    finished.push(name.clone());
                }
                TaskState::Failed(_) => {
                    progress.failed_nodes.insert(name.clone());
                    finished.push(name.clone());
                }
            }
        }
    }

    let mut recheck: Option<Duration> = None;
    let ending = if deadline_passed {
        progress.failed_nodes.extend(unassigned.drain(..));
        progress.failed_nodes.extend(running.drain(..));
        progress.active = 0;
        ctx.wake(ctx.budget.leave(key));
        Ending::DeadlineExceeded
    } else {
        let stale = fail_stale_tasks(ctx, &running, &image, &tag, now).await?;
        for name in stale.failed {
            progress.active = progress.active.saturating_sub(1);
            progress.failed_nodes.insert(name);
        }
        recheck = stale.recheck;
        let due = if never {
            let due = repull::due(ctx, &finished, &image, &tag, &uid, now);
            recheck = earliest(recheck, due.recheck);
            due.nodes
        } else {
            Vec::new()
        };
        let task = task_for(
            job,
            image.clone(),
            tag.clone(),
            ctx.options.tag_ttl_grace_seconds,
        );
        update_running_tasks(ctx, &running, &task).await?;
        // One grant of the registry budget covers the re-pulls due and the new tasks.
        let new_wanted = parallelism(job)
            .saturating_sub(progress.active)
            .min(unassigned.len());
        let wanted = due.len().saturating_add(new_wanted);
        let grant = ctx.budget.take(&ctx.cache(), &host, key, wanted);
        ctx.wake(grant.wake.clone());
        if grant.slots < wanted {
            progress.waiting_for_registry = Some(job_status::RegistryWait {
                host: host.clone(),
                nodes: wanted.saturating_sub(grant.slots),
                limit: ctx.options.max_pulls_per_registry,
            });
        }
        let restarts = due.len().min(grant.slots);
        let repull = repull::restart(ctx, &due[..restarts], &image, &tag).await?;
        progress.active = progress.active.saturating_add(repull.restarted);
        progress.succeeded = progress
            .succeeded
            .saturating_sub(repull.restarted_succeeded);
        for name in &repull.restarted_failed {
            progress.failed_nodes.remove(name);
        }
        let new_slots = grant
            .slots
            .saturating_sub(restarts)
            .min(parallelism(job).saturating_sub(progress.active));
        for name in unassigned.iter().take(new_slots) {
            let added = update_node(ctx, name, Subresource::Main, |node| {
                node_task::add_task(node, &task, &now_time)
            })
            .await?;
            if added.is_some() {
                progress.active = progress.active.saturating_add(1);
            }
        }
        drop(grant);
        if !never && progress.finished() == progress.desired {
            Ending::AllFinished
        } else {
            Ending::None
        }
    };
    let status = job_status::status(
        &previous,
        &progress,
        ending,
        generation,
        &start_time,
        &now_time,
    );
    write_status(ctx, key, job, status).await?;
    if ending == Ending::None {
        let to_deadline = deadline.map(|deadline| until(now, deadline));
        if let Some(delay) = earliest(recheck, to_deadline) {
            ctx.queue.add_after(Work::PullJob(key.clone()), delay);
        }
    } else {
        schedule_ttl(ctx, key, job, now, now);
    }
    Ok(())
}

/// Pushes a pull policy changed on the running job into its unfinished tags. Reads the
/// cache first so an unchanged tag costs no write.
async fn update_running_tasks(
    ctx: &Context,
    running: &[String],
    task: &node_task::Task,
) -> Result<(), ApiError> {
    for name in running {
        let stale = ctx
            .cache()
            .node(name)
            .is_some_and(|cached| node_task::task_outdated(&cached.object, task));
        if stale {
            update_node(ctx, name, Subresource::Main, |node| {
                node_task::update_task(node, task)
            })
            .await?;
        }
    }
    Ok(())
}

/// The earlier of two optional delays.
pub(super) fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Running tasks failed for not being acknowledged or for overrunning their deadline.
struct Stale {
    failed: Vec<String>,
    /// When to look again.
    recheck: Option<Duration>,
}

async fn fail_stale_tasks(
    ctx: &Context,
    running: &[String],
    image: &str,
    tag: &str,
    now: Timestamp,
) -> Result<Stale, ApiError> {
    let mut stale = Stale {
        failed: Vec::new(),
        recheck: None,
    };
    let now_time = Time(now);
    for name in running {
        let Some(node) = ctx.cache().node(name).map(|c| c.object) else {
            continue;
        };
        let Some(version) = stale_tasks::spec_version(&node, image, tag) else {
            continue;
        };
        let task = (name.clone(), image.to_owned(), tag.to_owned(), version);
        let since = {
            let mut unacknowledged = ctx.unacknowledged.lock();
            if stale_tasks::acknowledged(&node, image, tag) {
                unacknowledged.remove(&task);
                None
            } else {
                Some(
                    *unacknowledged
                        .entry(task.clone())
                        .or_insert_with(Instant::now),
                )
            }
        };
        let verdict = stale_tasks::judge(
            &node,
            image,
            tag,
            since,
            ctx.options.ack_timeout,
            ctx.options.deadline_grace,
            now,
        );
        match verdict {
            Verdict::Wait(delay) => stale.recheck = earliest(stale.recheck, delay),
            Verdict::Fail(message) => {
                let written = update_node(ctx, name, Subresource::Status, |node| {
                    stale_tasks::fail_tag(node, image, tag, version, message, &now_time)
                })
                .await?;
                ctx.unacknowledged.lock().remove(&task);
                if written.is_some() {
                    stale.failed.push(name.clone());
                }
            }
        }
    }
    Ok(stale)
}

/// A finished job: deleted once its `ttlSecondsAfterFinished` has passed, else queued for then.
async fn expire(
    ctx: &Context,
    key: &JobKey,
    job: &ImagePullJob,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(ttl) = job
        .spec
        .template
        .completion_policy
        .ttl_seconds_after_finished
    else {
        return Ok(());
    };
    let finished = job
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .map_or(now, |t| t.0);
    let expiry = seconds_after(finished, ttl.into());
    if now < expiry {
        ctx.queue
            .add_after(Work::PullJob(key.clone()), until(now, expiry));
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Preconditions {
            uid: job.metadata.uid.clone(),
            resource_version: None,
        },
        ..DeleteParams::default()
    };
    match ctx
        .registry
        .store(Kind::ImagePullJob)
        .delete(Some(&key.namespace), &key.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if err.code == StatusCode::NOT_FOUND || err.code == StatusCode::CONFLICT => Ok(()),
        Err(err) => Err(err),
    }
}

fn schedule_ttl(
    ctx: &Context,
    key: &JobKey,
    job: &ImagePullJob,
    finished: Timestamp,
    now: Timestamp,
) {
    if let Some(ttl) = job
        .spec
        .template
        .completion_policy
        .ttl_seconds_after_finished
    {
        let expiry = seconds_after(finished, ttl.into());
        ctx.queue
            .add_after(Work::PullJob(key.clone()), until(now, expiry));
    }
}

/// Writes `status` through `/status` unless it is what the job already has.
async fn write_status(
    ctx: &Context,
    key: &JobKey,
    job: &ImagePullJob,
    status: prepull_api::ImagePullJobStatus,
) -> Result<(), ApiError> {
    if job.status.as_ref() == Some(&status) {
        return Ok(());
    }
    if let Some(written) = patch_status(ctx, Kind::ImagePullJob, key, &status).await? {
        ctx.cache().put_job(&written);
    }
    Ok(())
}

/// `spec.parallelism` as a count (strings holding a number count; anything else is the
/// default).
fn parallelism(job: &ImagePullJob) -> usize {
    let value = match &job.spec.template.parallelism {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => s.trim().parse().unwrap_or(DEFAULT_PARALLELISM),
        None => DEFAULT_PARALLELISM,
    };
    usize::try_from(value).unwrap_or(0)
}
