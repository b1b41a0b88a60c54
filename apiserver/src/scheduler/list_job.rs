//! The ImageListPullJob reconciler: one child ImagePullJob per image (generateName
//! `<name>-`, a controller owner reference, label `controller-revision-hash` = hash of the
//! template), children of an old template or of an image no longer listed deleted, all
//! children deleted with the list (standalone mode has no garbage collector), and the list's
//! status summed from its children on every child change.

use std::collections::BTreeSet;

use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::image_list_pull_job::{FailedImageStatus, ImageListPullJobStatus};
use prepull_api::job_template::{CompletionPolicyType, ImagePullJobTemplate};
use prepull_api::{ApiVersion, ImageListPullJob, ImagePullJob, Kind};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Context;
use super::cache::{Cached, JobKey, LIST_JOB_KIND};
use super::status_write::patch_status;
use crate::http::status::ApiError;
use crate::registry::{Body, DeleteParams, Preconditions};

/// Label naming the template revision a child was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// Reconciles the ImageListPullJob `key`.
pub async fn reconcile(ctx: &Context, key: &JobKey) -> Result<(), ApiError> {
    let list = ctx.cache().list_job(key);
    let children = ctx.cache().children_of(key);
    let Some(list) = list.filter(|l| l.object.metadata.deletion_timestamp.is_none()) else {
        for child in &children {
            delete_child(ctx, &child.object).await?;
        }
        return Ok(());
    };
    let list = list.object;
    let uid = list.metadata.uid.clone().unwrap_or_default();
    let revision = template_hash(&list.spec.template);
    let wanted: BTreeSet<&str> = list.spec.images.iter().map(String::as_str).collect();
    let mut current = Vec::new();
    for child in &children {
        let job = &child.object;
        let ours = is_controlled_by(job, &uid);
        let fresh = child_revision(job) == Some(revision.as_str());
        if ours && fresh && wanted.contains(job.spec.image.as_str()) {
            current.push(child.clone());
        } else {
            delete_child(ctx, job).await?;
        }
    }
    let have: BTreeSet<String> = current
        .iter()
        .map(|c| c.object.spec.image.clone())
        .collect();
    for image in wanted.iter().filter(|image| !have.contains(**image)) {
        create_child(ctx, &list, image, &revision).await?;
    }
    let status = summarize(&list, &current, &Time(ctx.clock.now()));
    if list.status.as_ref() != Some(&status) {
        write_status(ctx, key, &status).await?;
    }
    Ok(())
}

/// The list's status from its current children.
fn summarize(
    list: &ImageListPullJob,
    children: &[Cached<ImagePullJob>],
    now: &Time,
) -> ImageListPullJobStatus {
    let previous = list.status.clone().unwrap_or_default();
    let mut status = ImageListPullJobStatus {
        start_time: previous.start_time.clone().or_else(|| Some(now.clone())),
        desired: i32::try_from(list.spec.images.len()).unwrap_or(i32::MAX),
        ..ImageListPullJobStatus::default()
    };
    let mut failed = Vec::new();
    for child in children {
        let job = &child.object;
        let Some(child_status) = &job.status else {
            continue;
        };
        if child_status.active > 0 {
            status.active = status.active.saturating_add(1);
        }
        if child_status.completion_time.is_some() {
            status.completed = status.completed.saturating_add(1);
            if child_status.succeeded == child_status.desired {
                status.succeeded = status.succeeded.saturating_add(1);
            }
        }
        if child_status.failed > 0 {
            failed.push(FailedImageStatus {
                image_pull_job: job.metadata.name.clone().unwrap_or_default(),
                name: job.spec.image.clone(),
                message: format!(
                    "failed on {} nodes: {}",
                    child_status.failed,
                    child_status.failed_nodes.join(", ")
                ),
            });
        }
    }
    failed.sort_by(|a, b| a.name.cmp(&b.name));
    status.failed_image_statuses = failed;
    let always = list.spec.template.completion_policy.type_ != Some(CompletionPolicyType::Never);
    if always && status.completed == status.desired {
        status.completion_time = previous.completion_time.or_else(|| Some(now.clone()));
    }
    status
}

async fn create_child(
    ctx: &Context,
    list: &ImageListPullJob,
    image: &str,
    revision: &str,
) -> Result<(), ApiError> {
    let name = list.metadata.name.clone().unwrap_or_default();
    let namespace = list.metadata.namespace.clone().unwrap_or_default();
    let mut spec = serde_json::to_value(&list.spec.template).expect("templates serialize");
    spec["image"] = json!(image);
    let body = json!({
        "apiVersion": ApiVersion::PREFERRED.api_version(),
        "kind": "ImagePullJob",
        "metadata": {
            "generateName": format!("{name}-"),
            "namespace": namespace,
            "labels": {REVISION_LABEL: revision},
            "ownerReferences": [{
                "apiVersion": ApiVersion::PREFERRED.api_version(),
                "kind": LIST_JOB_KIND,
                "name": name,
                "uid": list.metadata.uid.clone().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    });
    let written = ctx
        .registry
        .store(Kind::ImagePullJob)
        .create(
            Some(&namespace),
            Body::Value(body),
            ApiVersion::PREFERRED,
            &ctx.write_params,
        )
        .await?;
    // Known at once, so the next pass does not create a second child for the image.
    let affected = ctx.cache().put_job(&written.object);
    ctx.enqueue(affected);
    Ok(())
}

async fn delete_child(ctx: &Context, job: &ImagePullJob) -> Result<(), ApiError> {
    let params = DeleteParams {
        preconditions: Preconditions {
            uid: job.metadata.uid.clone(),
            resource_version: None,
        },
        ..DeleteParams::default()
    };
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    match ctx
        .registry
        .store(Kind::ImagePullJob)
        .delete(Some(&namespace), &name, &params)
        .await
    {
        Ok(deleted) => {
            let affected = ctx.cache().delete_job(&deleted.object);
            ctx.enqueue(affected);
            Ok(())
        }
        Err(err) if err.code == StatusCode::NOT_FOUND || err.code == StatusCode::CONFLICT => Ok(()),
        Err(err) => Err(err),
    }
}

async fn write_status(
    ctx: &Context,
    key: &JobKey,
    status: &ImageListPullJobStatus,
) -> Result<(), ApiError> {
    if let Some(written) = patch_status(ctx, Kind::ImageListPullJob, key, status).await? {
        ctx.cache().put_list(&written);
    }
    Ok(())
}

/// A short hash of the template (its JSON), as the child label's value.
pub fn template_hash(template: &ImagePullJobTemplate) -> String {
    let bytes = serde_json::to_vec(template).expect("templates serialize");
    let digest = Sha256::digest(&bytes);
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

fn child_revision(job: &ImagePullJob) -> Option<&str> {
    job.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(REVISION_LABEL))
        .map(String::as_str)
}

fn is_controlled_by(job: &ImagePullJob, uid: &str) -> bool {
    job.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.controller == Some(true) && owner.uid == uid)
}
