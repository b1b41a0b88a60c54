//! A kube client for the admin of a standalone server, with short deadlines so a request to a
//! server that was just killed fails instead of waiting.

use std::time::Duration;

use kube::Api;
use prepull_api::ImagePullJob;
use prepull_testbed::system::System;
use serde_json::json;

/// ImagePullJobs in `default`, as the admin.
pub async fn jobs_api(system: &System) -> anyhow::Result<Api<ImagePullJob>> {
    let kubeconfig = kube::config::Kubeconfig::read_from(system.server.kubeconfig())?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    config.connect_timeout = Some(Duration::from_secs(2));
    config.read_timeout = Some(Duration::from_secs(10));
    config.write_timeout = Some(Duration::from_secs(10));
    Ok(Api::namespaced(kube::Client::try_from(config)?, "default"))
}

/// An ImagePullJob `name` labelled `fault=<label>` that targets no node, with `seq` as both
/// a label and an annotation and `padding` bytes of annotation.
pub fn idle_job(name: &str, label: &str, seq: u64, padding: usize) -> anyhow::Result<ImagePullJob> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ImagePullJob",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"fault": label, "seq": seq.to_string()},
            "annotations": {"seq": seq.to_string(), "padding": "p".repeat(padding)},
        },
        "spec": {"image": "127.0.0.1:1/none:v1", "selector": {"names": ["nobody"]}},
    }))?)
}

/// A merge patch setting `seq` in the label and the annotation at once.
pub fn seq_patch(seq: u64) -> kube::api::Patch<serde_json::Value> {
    kube::api::Patch::Merge(json!({
        "metadata": {"labels": {"seq": seq.to_string()}, "annotations": {"seq": seq.to_string()}}
    }))
}

/// `seq` of `job`: (label, annotation).
pub fn seqs(job: &ImagePullJob) -> (Option<u64>, Option<u64>) {
    let label = job
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("seq"))
        .and_then(|v| v.parse().ok());
    let annotation = job
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("seq"))
        .and_then(|v| v.parse().ok());
    (label, annotation)
}
