//! Operator controls of the server, end to end: the `prepull-apiserver` binary in standalone
//! mode with the control's flag, six nodes (a real containerd and a `prepull-nodeagent`
//! binary each), a real registry, and kubectl.
//!
//! A custom harness (`harness = false`, as `end_to_end`): `cargo test -p prepull-apiserver
//! --test controls [FILTER]` runs the cases whose names contain FILTER and prints the logs of
//! every process when one fails.

mod images_ready;
mod registry_budget;

use std::process::ExitCode;
use std::time::Duration;

use prepull_testbed::case;
use prepull_testbed::case_harness::{Case, Suite};
use prepull_testbed::system::{Binaries, System};

/// The nodes of the shared system.
const NODES: [&str; 6] = ["node-1", "node-2", "node-3", "node-4", "node-5", "node-6"];

fn main() -> ExitCode {
    let cases: [Case<System>; 3] = [
        case!(registry_budget::three_jobs_on_one_registry_never_pull_more_than_the_budget_at_once),
        case!(registry_budget::a_never_jobs_repulls_are_held_to_the_budget),
        case!(images_ready::images_ready_follows_the_required_jobs_of_each_node),
    ];
    let dir = tempfile::Builder::new()
        .prefix("prepull-controls-")
        .tempdir()
        .expect("temp dir");
    Suite::new(&cases, Duration::from_secs(180)).run(
        || async {
            let binaries = Binaries::beside_current_exe(true).await?;
            let flags = [
                "--max-pulls-per-registry".to_owned(),
                registry_budget::BUDGET.to_string(),
                "--scheduler-repull-period-seconds".to_owned(),
                "2".to_owned(),
            ];
            let nodes: Vec<(&str, &[(&str, &str)])> =
                NODES.iter().map(|name| (*name, &[][..])).collect();
            System::start(dir.path(), binaries, &flags, &nodes).await
        },
        System::logs,
    )
}
