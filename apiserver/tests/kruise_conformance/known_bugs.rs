//! Known OpenKruise bugs Prepull claims to fix, reproduced on the real OpenKruise and shown
//! fixed in Prepull by the same jobs:
//!
//! - #2286: an ImagePullJob with `selector: {}` (an empty label selector, which matches every
//!   node) never progresses.
//! - #2534: an image named by digest (`repo@sha256:...`) does not pull.
//!
//! Each bug job runs next to a control job (the same image kind, no selector). OpenKruise's
//! answer is read once its control job has completed, so no fixed sleep decides it: by then
//! OpenKruise has handled jobs created at the same moment.
//!
//! #2221 (a tag keeps its first job's pull policy) shows in the examples' NodeImages (see
//! `intended.rs`).

use std::time::Duration;

use anyhow::{Context, bail};
use prepull_testbed::{Kubectl, Registry, eventually};
use serde_json::Value;

use crate::IMAGE_PULL_JOBS;

const TIMEOUT: Duration = Duration::from_secs(120);

/// A job's state as the comparison reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    desired: i64,
    succeeded: i64,
    failed: i64,
    finished: bool,
    /// `status.message`, for the report.
    message: String,
}

impl State {
    fn of(job: &Value) -> State {
        let status = &job["status"];
        let count = |key: &str| status[key].as_i64().unwrap_or_default();
        State {
            desired: count("desired"),
            succeeded: count("succeeded"),
            failed: count("failed"),
            finished: status
                .get("completionTime")
                .is_some_and(|time| !time.is_null()),
            message: status["message"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn completed_on(&self, nodes: i64) -> bool {
        self.finished && self.desired == nodes && self.succeeded == nodes
    }
}

/// Runs the bug jobs in both systems (with `nodes` nodes each) and returns a report line per
/// job; fails when Prepull does not complete them or OpenKruise no longer shows the bug.
pub async fn reproduce(
    kruise: &Kubectl,
    ours: &Kubectl,
    registry: &Registry,
    nodes: i64,
) -> anyhow::Result<String> {
    let host = registry.host_port();
    registry.push_test_image("demo/control", "v1").await?;
    registry
        .push_test_image("demo/empty-selector", "v1")
        .await?;
    let digest = registry.push_test_image("demo/by-digest", "v1").await?;
    let jobs = [
        ("control", format!("image: {host}/demo/control:v1")),
        (
            "empty-selector",
            format!("image: {host}/demo/empty-selector:v1\n  selector: {{}}"),
        ),
        (
            "by-digest",
            format!(
                "image: {}\n  pullPolicy:\n    backoffLimit: 0\n    timeoutSeconds: 60",
                digest.digest_reference
            ),
        ),
    ];
    for (name, spec) in &jobs {
        let manifest = format!(
            "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  {spec}\n  parallelism: {nodes}\n"
        );
        for (side, kubectl) in [("OpenKruise", kruise), ("Prepull", ours)] {
            kubectl
                .run_with_stdin(&["create", "-f", "-"], Some(&manifest))
                .await
                .with_context(|| format!("{side} refused job {name}"))?;
        }
    }

    let jobs = &jobs;
    // Prepull: every job completes on every node.
    eventually("Prepull completes the bug jobs", TIMEOUT, || async move {
        let states = states(ours).await?;
        if jobs
            .iter()
            .all(|(name, _)| states.get(*name).is_some_and(|s| s.completed_on(nodes)))
        {
            Ok(())
        } else {
            bail!("{states:?}")
        }
    })
    .await?;
    let our_states = states(ours).await?;

    // OpenKruise: once the control job has completed (and the digest job has finished,
    // whichever way), read what the bug jobs did.
    eventually(
        "OpenKruise completes the control job and finishes the digest job",
        TIMEOUT,
        || async move {
            let states = states(kruise).await?;
            let control = states.get("control").is_some_and(|s| s.completed_on(nodes));
            let digest = states.get("by-digest").is_some_and(|s| s.finished);
            if control && digest {
                Ok(())
            } else {
                bail!("{states:?}")
            }
        },
    )
    .await?;
    let kruise_states = states(kruise).await?;

    let mut report = String::new();
    for (name, _) in jobs {
        report.push_str(&format!(
            "  {name}: OpenKruise {:?} / Prepull {:?}\n",
            kruise_states.get(*name),
            our_states.get(*name)
        ));
    }
    let empty = kruise_states.get("empty-selector").cloned();
    let by_digest = kruise_states.get("by-digest").cloned();
    // #2286: nothing happened for the `selector: {}` job.
    let stuck = empty
        .as_ref()
        .is_some_and(|s| !s.finished && s.succeeded == 0);
    // #2534: the digest job finished without a single successful pull.
    let broken = by_digest.as_ref().is_some_and(|s| s.succeeded == 0);
    if !stuck || !broken {
        bail!(
            "OpenKruise no longer shows #2286 (stuck: {stuck}) or #2534 (broken: {broken}):\n{report}"
        );
    }
    Ok(report)
}

async fn states(kubectl: &Kubectl) -> anyhow::Result<std::collections::BTreeMap<String, State>> {
    let text = kubectl
        .run(&["get", IMAGE_PULL_JOBS, "-n", "default", "-o", "json"])
        .await?;
    let list: Value = serde_json::from_str(&text)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| {
            (
                job["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                State::of(job),
            )
        })
        .collect())
}
