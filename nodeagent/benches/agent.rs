//! Benchmark (run with `cargo bench -p prepull-nodeagent --bench agent`): the agent binary's
//! resident memory idle and after 50 pulls, and how many status writes those 50 pulls cost
//! (coalescing), against real containerd, registry and API server.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;
use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{Containerd, Registry, RegistryOptions, assert_eventually};
use serde_json::json;
use support::Server;

const TASKS: usize = 50;

/// `VmRSS` and `RssAnon` (heap and stacks; the rest of RSS is mapped binary code, large in
/// debug builds) of `pid` in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
            .expect("field present")
    };
    (field("VmRSS:"), field("RssAnon:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(agent_memory_and_status_writes_for_fifty_pulls());
}

async fn agent_memory_and_status_writes_for_fifty_pulls() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    for i in 0..TASKS {
        registry
            .push_test_image(&format!("bench/app{i}"), "v1")
            .await
            .expect("push");
    }
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_prepull-nodeagent"))
        .args(["--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--node-name", "n1", "--health-port", "0"])
        .args(["--cri-endpoint", &containerd.endpoint()])
        .env("PREPULL_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("agent starts");
    let pid = agent.id().expect("pid");
    let admin = server.admin().await;
    // Idle: registered and watching (its labels-free NodeImage gets a first status write).
    assert_eventually(
        "the agent writes its first status",
        Duration::from_secs(30),
        || async {
            match admin.get("n1").await?.status {
                Some(_) => Ok(()),
                None => Err(anyhow::anyhow!("no status yet")),
            }
        },
    )
    .await;
    let (idle_rss, idle_anon) = memory_kib(pid);

    let mut events = watcher::watcher(
        admin.clone(),
        watcher::Config::default().fields("metadata.name=n1"),
    )
    .boxed();
    let images: serde_json::Map<_, _> = (0..TASKS)
        .map(|i| {
            (
                format!("{}/bench/app{i}", registry.host_port()),
                json!({"tags": [{"tag": "v1", "createdAt": "2026-01-01T00:00:00Z",
                                 "pullPolicy": {"ttlSecondsAfterFinished": 300}}]}),
            )
        })
        .collect();
    let patch = json!({"spec": {"images": images}});
    let started = tokio::time::Instant::now();
    server
        .kubectl
        .run(&[
            "patch",
            "nodeimage",
            "n1",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .await
        .expect("kubectl patch");
    let mut versions = std::collections::BTreeSet::new();
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) =
                event.expect("watch event")
            else {
                continue;
            };
            versions.insert(object.metadata.resource_version.clone().unwrap_or_default());
            let status = object.status.unwrap_or_default();
            let done = status
                .image_statuses
                .values()
                .flat_map(|s| &s.tags)
                .filter(|t| t.phase == ImagePullPhase::Succeeded)
                .count();
            if done == TASKS {
                return;
            }
        }
    })
    .await
    .expect("all pulls succeed");
    let elapsed = started.elapsed();
    let (busy_rss, busy_anon) = memory_kib(pid);
    agent.start_kill().expect("stop the agent");
    // Versions seen include the spec patch itself.
    let writes = versions.len().saturating_sub(1);
    println!(
        "BENCH agent RSS idle {:.1} MiB (anonymous {:.1} MiB), after {TASKS} pulls {:.1} MiB \
         (anonymous {:.1} MiB); {TASKS} pulls took {elapsed:?} with {writes} status writes",
        mib(idle_rss),
        mib(idle_anon),
        mib(busy_rss),
        mib(busy_anon),
    );
    assert!(mib(busy_anon) <= 20.0, "heap and stacks stay within 20 MiB");
    assert!(writes < TASKS * 3, "status writes are coalesced: {writes}");
}
