//! An ImagePullJob's status from how its tasks stand on its target nodes: counters,
//! failedNodes, message, completion and conditions.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::ImagePullJobStatus;
use prepull_api::job_condition::{ConditionStatus, JobCondition, JobConditionType};

/// Message of a job whose every target node finished.
pub const COMPLETED: &str = "job has completed";
/// Message of a job stopped by its `activeDeadlineSeconds`.
pub const DEADLINE_EXCEEDED: &str = "job exceeds activeDeadlineSeconds";
/// Message of a `podSelector` job where the node inventory has no Pods.
pub const POD_SELECTOR_UNSUPPORTED: &str =
    "podSelector needs cluster mode: in standalone mode there are no Pods to select nodes by";

/// How the job's tasks stand over its target nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub desired: usize,
    /// Assigned, no result yet.
    pub active: usize,
    pub succeeded: usize,
    /// Nodes that failed (sorted).
    pub failed_nodes: BTreeSet<String>,
    /// Nodes that would get a task now but wait for the registry budget.
    pub waiting_for_registry: Option<RegistryWait>,
}

/// Nodes of a job waiting for a slot of the registry budget (`--max-pulls-per-registry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryWait {
    pub host: String,
    pub nodes: usize,
    /// Pulls at a time per registry host.
    pub limit: usize,
}

impl Progress {
    /// Nodes with a result.
    pub fn finished(&self) -> usize {
        self.succeeded.saturating_add(self.failed_nodes.len())
    }
}

/// How the job ends, if it does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Still running.
    None,
    /// Every target node finished (type Always).
    AllFinished,
    /// `activeDeadlineSeconds` passed: the unfinished nodes count as failed.
    DeadlineExceeded,
}

/// The status for `progress`, keeping `startTime` (and the status of a finished job) from
/// `previous`.
pub fn status(
    previous: &ImagePullJobStatus,
    progress: &Progress,
    ending: Ending,
    generation: Option<i64>,
    start_time: &Time,
    now: &Time,
) -> ImagePullJobStatus {
    let mut status = ImagePullJobStatus {
        start_time: Some(start_time.clone()),
        completion_time: None,
        desired: count(progress.desired),
        active: count(progress.active),
        succeeded: count(progress.succeeded),
        failed: count(progress.failed_nodes.len()),
        message: String::new(),
        failed_nodes: progress.failed_nodes.iter().cloned().collect(),
        conditions: Vec::new(),
        observed_generation: generation,
    };
    match ending {
        Ending::None => {
            let percent = if progress.desired == 0 {
                100.0
            } else {
                progress.finished() as f64 * 100.0 / progress.desired as f64
            };
            status.message = format!("job is running, progress {percent:.1}%");
            if let Some(wait) = &progress.waiting_for_registry {
                status.message.push_str(&format!(
                    "; {} nodes waiting for registry {} (at most {} pulls at a time)",
                    wait.nodes, wait.host, wait.limit
                ));
            }
            status.conditions = previous.conditions.clone();
        }
        Ending::AllFinished | Ending::DeadlineExceeded => {
            status.completion_time = Some(now.clone());
            status.message = if ending == Ending::DeadlineExceeded {
                DEADLINE_EXCEEDED.to_owned()
            } else {
                COMPLETED.to_owned()
            };
            status.conditions = vec![final_condition(progress, ending, now)];
        }
    }
    status
}

/// The status of a job that cannot run because it selects nodes by pods: condition
/// `Complete` False with reason `PodSelectorUnsupported` (the API allows only Complete and
/// Failed conditions), and the same message.
pub fn pod_selector_unsupported(
    previous: &ImagePullJobStatus,
    generation: Option<i64>,
    now: &Time,
) -> ImagePullJobStatus {
    let condition = previous
        .conditions
        .iter()
        .find(|c| c.reason == "PodSelectorUnsupported")
        .cloned()
        .unwrap_or_else(|| JobCondition {
            type_: JobConditionType::Complete,
            status: ConditionStatus::False,
            reason: "PodSelectorUnsupported".to_owned(),
            message: POD_SELECTOR_UNSUPPORTED.to_owned(),
            last_transition_time: Some(now.clone()),
        });
    ImagePullJobStatus {
        start_time: previous.start_time.clone(),
        message: POD_SELECTOR_UNSUPPORTED.to_owned(),
        conditions: vec![condition],
        observed_generation: generation,
        ..ImagePullJobStatus::default()
    }
}

fn final_condition(progress: &Progress, ending: Ending, now: &Time) -> JobCondition {
    let failed = progress.failed_nodes.len();
    let (type_, reason, message) = match ending {
        Ending::DeadlineExceeded => (
            JobConditionType::Failed,
            "DeadlineExceeded",
            DEADLINE_EXCEEDED.to_owned(),
        ),
        _ if failed > 0 => (
            JobConditionType::Failed,
            "NodesFailed",
            format!(
                "the image failed to pull on {failed} of {} nodes",
                progress.desired
            ),
        ),
        _ => (
            JobConditionType::Complete,
            "AllNodesSucceeded",
            COMPLETED.to_owned(),
        ),
    };
    JobCondition {
        type_,
        status: ConditionStatus::True,
        reason: reason.to_owned(),
        message,
        last_transition_time: Some(now.clone()),
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(second).unwrap())
    }

    #[test]
    fn a_running_job_reports_progress_and_a_finished_one_its_condition() {
        let progress = Progress {
            desired: 4,
            active: 1,
            succeeded: 1,
            failed_nodes: BTreeSet::from(["b".to_owned()]),
            waiting_for_registry: None,
        };
        let previous = ImagePullJobStatus::default();
        let running = status(&previous, &progress, Ending::None, Some(1), &at(0), &at(5));
        assert_eq!(running.message, "job is running, progress 50.0%");
        let waiting = Progress {
            waiting_for_registry: Some(RegistryWait {
                host: "registry.example".to_owned(),
                nodes: 2,
                limit: 3,
            }),
            ..progress.clone()
        };
        let running = status(&previous, &waiting, Ending::None, Some(1), &at(0), &at(5));
        assert_eq!(
            running.message,
            "job is running, progress 50.0%; 2 nodes waiting for registry registry.example (at most 3 pulls at a time)"
        );
        assert_eq!((running.active, running.failed), (1, 1));
        assert!(running.completion_time.is_none());
        let done = status(
            &previous,
            &progress,
            Ending::AllFinished,
            Some(1),
            &at(0),
            &at(5),
        );
        assert_eq!(done.message, COMPLETED);
        assert_eq!(done.conditions[0].type_, JobConditionType::Failed);
        assert_eq!(done.conditions[0].reason, "NodesFailed");
        assert_eq!(done.failed_nodes, vec!["b".to_owned()]);
    }
}
