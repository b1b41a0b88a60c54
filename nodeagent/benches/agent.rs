//! Benchmark of the agent binary: resident memory idle and while and after pulling 50 tags,
//! and how many status writes those 50 pulls cost (coalescing), against real containerd,
//! registry and API server.
//!
//! Run: `cargo bench -p prepull-nodeagent --bench agent` (a release build, like every bench).
//! Prints the figures and writes `bench/results/agent-<UTC date>.{json,md}` at the workspace
//! root.
//!
//! The agent runs as its own process (the built `prepull-nodeagent`), so its memory is its own:
//! the API server, registry and containerd run elsewhere. Memory comes from `/proc/<pid>/status`:
//! `VmRSS` (resident now), `VmHWM` (peak resident), `RssAnon` (heap and stacks; the rest is the
//! mapped binary and libraries). Status writes are the agent's own count
//! (`prepull_nodeagent_status_writes_total` on its `/metrics`). The agent is measured in a few
//! runtime set-ups (default single thread; two worker threads; two worker threads with glibc's
//! `MALLOC_ARENA_MAX=2`), each against a fresh containerd so every tag is really pulled.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use kube::runtime::watcher;
use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{
    Containerd, Registry, RegistryOptions, assert_eventually, free_loopback_port, http_get,
};
use serde_json::json;
use support::Server;

const TASKS: usize = 50;
/// The target for the agent's resident memory, in MiB.
const TARGET_MIB: f64 = 20.0;
/// How long memory is left to settle before the idle figure is taken.
const SETTLE: Duration = Duration::from_secs(2);

/// One way of running the agent.
struct Variant {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "current-thread (default)",
        args: &[],
        env: &[],
    },
    Variant {
        name: "2 worker threads",
        args: &["--worker-threads", "2"],
        env: &[],
    },
    Variant {
        name: "2 worker threads, MALLOC_ARENA_MAX=2",
        args: &["--worker-threads", "2"],
        env: &[("MALLOC_ARENA_MAX", "2")],
    },
];

/// Memory of a process, KiB.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Memory {
    rss_kib: u64,
    peak_rss_kib: u64,
    anon_kib: u64,
    threads: u64,
}

fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
            .with_context(|| format!("{name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_rss_kib: field("VmHWM:")?,
        anon_kib: field("RssAnon:")?,
        threads: field("Threads:")?,
    })
}

/// What one variant measured.
#[derive(Debug, serde::Serialize)]
struct Measurement {
    variant: &'static str,
    idle: Memory,
    after_pulls: Memory,
    pulls_seconds: f64,
    status_writes_for_pulls: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default()).await?;
    for i in 0..TASKS {
        registry
            .push_test_image(&format!("bench/app{i}"), "v1")
            .await?;
    }
    let mut measurements = Vec::new();
    for (index, variant) in VARIANTS.iter().enumerate() {
        let node = format!("bench{index}");
        let measurement = measure(&server, &registry, &node, variant).await?;
        println!(
            "BENCH agent [{}]: idle RSS {:.1} MiB (anon {:.1}, {} threads); 50 pulls in {:.1} s; \
             peak RSS {:.1} MiB, after {:.1} MiB (anon {:.1}, {} threads); {} status writes",
            measurement.variant,
            mib(measurement.idle.rss_kib),
            mib(measurement.idle.anon_kib),
            measurement.idle.threads,
            measurement.pulls_seconds,
            mib(measurement.after_pulls.peak_rss_kib),
            mib(measurement.after_pulls.rss_kib),
            mib(measurement.after_pulls.anon_kib),
            measurement.after_pulls.threads,
            measurement.status_writes_for_pulls,
        );
        measurements.push(measurement);
    }
    write_results(&measurements)?;
    let default = &measurements[0];
    anyhow::ensure!(
        mib(default.after_pulls.peak_rss_kib) <= TARGET_MIB,
        "peak RSS {:.1} MiB is over the {TARGET_MIB} MiB target",
        mib(default.after_pulls.peak_rss_kib)
    );
    anyhow::ensure!(
        default.status_writes_for_pulls < (TASKS * 3) as u64,
        "status writes are not coalesced: {}",
        default.status_writes_for_pulls
    );
    Ok(())
}

async fn measure(
    server: &Server,
    registry: &Registry,
    node: &str,
    variant: &Variant,
) -> anyhow::Result<Measurement> {
    let containerd = Containerd::start(&[registry.host_port()]).await?;
    let kubeconfig = server.node_kubeconfig(node);
    let port = free_loopback_port()?;
    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_prepull-nodeagent"))
        .args(["--kubeconfig", kubeconfig.to_str().context("utf-8 path")?])
        .args(["--node-name", node, "--health-port", &port.to_string()])
        .args(["--cri-endpoint", &containerd.endpoint()])
        .args(variant.args)
        .envs(variant.env.iter().copied())
        .env("PREPULL_LOG", "warn")
        .kill_on_drop(true)
        .spawn()?;
    let pid = agent.id().context("the agent's pid")?;
    let admin = server.admin().await;
    // Idle: registered, watching, its first status written.
    assert_eventually(
        "the agent writes its first status",
        Duration::from_secs(30),
        || async {
            match admin.get(node).await?.status {
                Some(_) => Ok(()),
                None => Err(anyhow::anyhow!("no status yet")),
            }
        },
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    let idle = memory(pid)?;
    let writes_before = status_writes(port).await?;

    let mut events = watcher::watcher(
        admin.clone(),
        watcher::Config::default().fields(&format!("metadata.name={node}")),
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
            node,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .await?;
    tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) = event? else {
                continue;
            };
            let status = object.status.unwrap_or_default();
            if status.succeeded == TASKS as i32 {
                return Ok(());
            }
            if let Some(failed) = status
                .image_statuses
                .values()
                .flat_map(|s| &s.tags)
                .find(|t| t.phase == ImagePullPhase::Failed)
            {
                anyhow::bail!("a pull failed: {}", failed.message);
            }
        }
        anyhow::bail!("the watch ended")
    })
    .await
    .context("50 pulls within 180 s")??;
    let pulls_seconds = started.elapsed().as_secs_f64();
    // The last write is the one the watch saw; let the counter settle past it.
    tokio::time::sleep(SETTLE).await;
    let after_pulls = memory(pid)?;
    let writes_after = status_writes(port).await?;
    agent.start_kill()?;
    let _ = agent.wait().await;
    Ok(Measurement {
        variant: variant.name,
        idle,
        after_pulls,
        pulls_seconds,
        status_writes_for_pulls: writes_after - writes_before,
    })
}

/// `prepull_nodeagent_status_writes_total{result="ok"}` of the agent on `port`.
async fn status_writes(port: u16) -> anyhow::Result<u64> {
    let answer = http_get(port, "/metrics", Duration::from_secs(5)).await?;
    answer
        .body
        .lines()
        .find_map(|line| line.strip_prefix("prepull_nodeagent_status_writes_total{result=\"ok\"} "))
        .and_then(|value| value.trim().parse().ok())
        .context("status writes in /metrics")
}

fn write_results(measurements: &[Measurement]) -> anyhow::Result<()> {
    let date = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the nodeagent crate lives in the workspace")?;
    let dir = workspace.join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let report = json!({
        "benchmark": "agent",
        "date": date,
        "command": "cargo bench -p prepull-nodeagent --bench agent",
        "build": build,
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "setup": {
            "tasks": TASKS,
            "status_interval_ms": 300,
            "runtime": "containerd (Debian 1.6), native snapshotter; docker-registry on loopback",
        },
        "target_rss_mib": TARGET_MIB,
        "results": measurements,
    });
    let json_path = dir.join(format!("agent-{date}.json"));
    std::fs::write(&json_path, serde_json::to_vec_pretty(&report)?)?;
    let mut md = format!(
        "# Agent benchmark ({date})\n\n`cargo bench -p prepull-nodeagent --bench agent` ({build} \
         build). The agent binary pulls {TASKS} tags (one small image each) from a loopback \
         registry through containerd; status interval 300 ms. Memory from /proc (KiB); status \
         writes from the agent's own /metrics. Target: RSS <= {TARGET_MIB} MiB.\n\n\
         | variant | idle RSS | idle anon | threads | peak RSS | RSS after | anon after | \
         pulls s | status writes |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for m in measurements {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |\n",
            m.variant,
            m.idle.rss_kib,
            m.idle.anon_kib,
            m.after_pulls.threads,
            m.after_pulls.peak_rss_kib,
            m.after_pulls.rss_kib,
            m.after_pulls.anon_kib,
            m.pulls_seconds,
            m.status_writes_for_pulls,
        ));
    }
    let md_path = dir.join(format!("agent-{date}.md"));
    std::fs::write(&md_path, md)?;
    println!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}
