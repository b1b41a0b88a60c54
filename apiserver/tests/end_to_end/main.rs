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
mod revocation;

use std::process::ExitCode;
use std::time::Duration;

use prepull_testbed::case;
use prepull_testbed::case_harness::{Case, Suite};
use prepull_testbed::system::{Binaries, System};

fn main() -> ExitCode {
    // In the order they run; `a_never_job...` adds a node, so it runs after the cases that
    // count nodes.
    let cases: [Case<System>; 12] = [
        case!(jobs::a_job_without_selector_completes_on_every_node),
        case!(jobs::names_and_label_selectors_target_exactly_their_nodes),
        case!(jobs::with_parallelism_one_a_watch_never_shows_more_than_one_active),
        case!(jobs::active_deadline_seconds_fails_the_remaining_nodes),
        case!(jobs::ttl_seconds_after_finished_deletes_the_job),
        case!(jobs::the_faq_flow_shows_why_a_missing_image_failed),
        case!(jobs::an_image_list_pull_job_with_two_images_completes_two),
        case!(jobs::twenty_jobs_over_the_same_images_leave_every_task_on_every_node),
        case!(failover::a_killed_leader_is_replaced_within_the_lease_and_every_job_completes),
        case!(jobs::kubectl_wait_for_complete_returns),
        case!(revocation::a_revoked_node_certificate_is_refused_and_a_new_one_works),
        case!(jobs::a_never_job_reaches_a_late_node_and_pulls_again_each_period),
    ];
    let dir = tempfile::Builder::new()
        .prefix("prepull-e2e-")
        .tempdir()
        .expect("temp dir");
    Suite::new(&cases, Duration::from_secs(180)).run(
        || async {
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
        },
        System::logs,
    )
}
