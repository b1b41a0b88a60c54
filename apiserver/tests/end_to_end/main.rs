//! End to end, as users run it: the `prepull-apiserver` binary in standalone mode, one real
//! containerd and one `prepull-nodeagent` binary per node, a real registry, and kubectl.
//! One system is shared by the cases (they run one after the other, each on its own images
//! and job names); the leader failover case adds two replicas on a real etcd.
//!
//! A custom harness (`harness = false`): `cargo test -p prepull-apiserver --test end_to_end
//! [FILTER]` runs the cases whose names contain FILTER, prints `test <name> ... ok` per case
//! and the logs of every process when one fails.

mod failover;
mod jobs;
mod kube;
mod revocation;
mod system;

use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use system::{Binaries, System};

/// Every case, in the order they run; `a_never_job...` adds a node, so it runs after the
/// cases that count nodes.
const CASES: [&str; 12] = [
    "a_job_without_selector_completes_on_every_node",
    "names_and_label_selectors_target_exactly_their_nodes",
    "with_parallelism_one_a_watch_never_shows_more_than_one_active",
    "active_deadline_seconds_fails_the_remaining_nodes",
    "ttl_seconds_after_finished_deletes_the_job",
    "the_faq_flow_shows_why_a_missing_image_failed",
    "an_image_list_pull_job_with_two_images_completes_two",
    "twenty_jobs_over_the_same_images_leave_every_task_on_every_node",
    "a_killed_leader_is_replaced_within_the_lease_and_every_job_completes",
    "kubectl_wait_for_complete_returns",
    "a_revoked_node_certificate_is_refused_and_a_new_one_works",
    "a_never_job_reaches_a_late_node_and_pulls_again_each_period",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for case in CASES {
            println!("{case}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let selected: Vec<&str> = CASES
        .into_iter()
        .filter(|case| filter.as_deref().is_none_or(|f| case.contains(f)))
        .collect();
    if selected.is_empty() {
        println!("running 0 tests");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failed = runtime.block_on(run(&selected));
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        selected.len() - failed,
        failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs the `selected` cases on one system; returns how many failed.
async fn run(selected: &[&str]) -> usize {
    println!("running {} tests", selected.len());
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("prepull-e2e-")
        .tempdir()
        .expect("temp dir");
    let system = async {
        let binaries = Binaries::beside_current_exe(true).await?;
        let flags = [
            "--scheduler-repull-period-seconds".to_owned(),
            "4".to_owned(),
        ];
        System::start(
            dir.path(),
            binaries,
            &flags,
            &[("node-a", &[("zone", "a")]), ("node-b", &[("zone", "b")])],
        )
        .await
    };
    let mut system = match system.await {
        Ok(system) => system,
        Err(err) => {
            println!("the system did not start: {err:#}");
            return selected.len();
        }
    };
    println!("system up in {:?}", started.elapsed());
    let mut failed = 0;
    for &case in selected {
        let begun = Instant::now();
        let result = match case {
            "a_job_without_selector_completes_on_every_node" => {
                timed(jobs::a_job_without_selector_completes_on_every_node(
                    &system,
                ))
                .await
            }
            "names_and_label_selectors_target_exactly_their_nodes" => {
                timed(jobs::names_and_label_selectors_target_exactly_their_nodes(
                    &system,
                ))
                .await
            }
            "with_parallelism_one_a_watch_never_shows_more_than_one_active" => {
                timed(jobs::with_parallelism_one_a_watch_never_shows_more_than_one_active(&system))
                    .await
            }
            "active_deadline_seconds_fails_the_remaining_nodes" => {
                timed(jobs::active_deadline_seconds_fails_the_remaining_nodes(
                    &system,
                ))
                .await
            }
            "ttl_seconds_after_finished_deletes_the_job" => {
                timed(jobs::ttl_seconds_after_finished_deletes_the_job(&system)).await
            }
            "the_faq_flow_shows_why_a_missing_image_failed" => {
                timed(jobs::the_faq_flow_shows_why_a_missing_image_failed(&system)).await
            }
            "an_image_list_pull_job_with_two_images_completes_two" => {
                timed(jobs::an_image_list_pull_job_with_two_images_completes_two(
                    &system,
                ))
                .await
            }
            "twenty_jobs_over_the_same_images_leave_every_task_on_every_node" => {
                timed(
                    jobs::twenty_jobs_over_the_same_images_leave_every_task_on_every_node(&system),
                )
                .await
            }
            "a_killed_leader_is_replaced_within_the_lease_and_every_job_completes" => {
                timed(
                    failover::a_killed_leader_is_replaced_within_the_lease_and_every_job_completes(
                        &system,
                    ),
                )
                .await
            }
            "kubectl_wait_for_complete_returns" => {
                timed(jobs::kubectl_wait_for_complete_returns(&system)).await
            }
            "a_revoked_node_certificate_is_refused_and_a_new_one_works" => {
                timed(
                    revocation::a_revoked_node_certificate_is_refused_and_a_new_one_works(&system),
                )
                .await
            }
            "a_never_job_reaches_a_late_node_and_pulls_again_each_period" => {
                timed(
                    jobs::a_never_job_reaches_a_late_node_and_pulls_again_each_period(&mut system),
                )
                .await
            }
            other => unreachable!("unknown case {other}"),
        };
        match result {
            Ok(()) => println!("test {case} ... ok ({:.1?})", begun.elapsed()),
            Err(err) => {
                failed += 1;
                println!(
                    "test {case} ... FAILED ({:.1?})\n{err:#}\n{}",
                    begun.elapsed(),
                    system.logs()
                );
            }
        }
    }
    println!("all cases in {:?}", started.elapsed());
    drop(system);
    failed
}

/// Runs one case with a 3-minute bound.
async fn timed(case: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(std::time::Duration::from_secs(180), case)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the case took longer than 3 minutes")))
}
