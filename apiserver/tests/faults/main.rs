//! The fault-injection suite: real processes (the `prepull-apiserver` and `prepull-nodeagent`
//! binaries, containerd, etcd, the registry behind a proxy that injects faults) killed,
//! stopped and starved while jobs run. Each case starts the system it needs and checks that
//! nothing acknowledged is lost, nothing is stuck and no node got a second pull order; it
//! prints a `figures` line that `bench/results/faults-<date>.md` collects.
//!
//! A custom harness: `cargo test -p prepull-apiserver --test faults [FILTER]`. The cluster-mode
//! partition (the leader's connection to kube-apiserver blackholed) lives with the other
//! cluster-mode tests: `--test main_cluster a_partitioned_leader`.

mod bed;
mod durability;
mod etcd_outage;
mod kube_client;
mod node_faults;
mod registry_faults;
mod server_kill;
mod slow_watcher;

use std::process::ExitCode;
use std::time::Duration;

use prepull_testbed::case;
use prepull_testbed::case_harness::{Case, Suite};

use bed::Bed;

fn main() -> ExitCode {
    let cases: [Case<Bed>; 13] = [
        case!(server_kill::the_server_killed_mid_job_on_the_embedded_store_completes_after_restart),
        case!(server_kill::the_server_killed_mid_job_on_etcd_completes_after_restart),
        case!(etcd_outage::etcd_stopped_for_20s_mid_job_fails_requests_fast_and_the_job_completes),
        case!(etcd_outage::a_3_member_etcd_loses_its_leader_mid_job_and_keeps_every_acknowledged_write),
        case!(etcd_outage::etcd_over_its_space_quota_answers_507_and_recovers_once_freed),
        case!(node_faults::an_agent_killed_mid_pull_and_restarted_ends_succeeded_at_the_same_version),
        case!(node_faults::an_agent_restarted_after_a_pull_does_not_ask_the_registry_again),
        case!(node_faults::containerd_restarted_mid_pull_never_leaves_the_tag_pulling),
        case!(registry_faults::a_registry_answering_503_twice_succeeds_within_the_backoff_limit),
        case!(registry_faults::a_registry_resetting_the_connection_mid_blob_is_retried),
        case!(slow_watcher::a_watcher_reading_nothing_for_60s_while_10k_events_pass_costs_no_server_memory),
        case!(durability::acknowledged_writes_survive_random_server_kills_on_the_embedded_store),
        case!(durability::acknowledged_writes_survive_random_server_kills_on_etcd),
    ];
    Suite::new(&cases, Duration::from_secs(240)).run(Bed::new, |_| String::new())
}
