//! The scheduler at scale: one ImagePullJob over 1,000 and 5,000 registered nodes with
//! parallelism 100 and 1,000, on the embedded store behind the watch cache, the registry and
//! scheduler in-process. Simulated agents (the scheduler tests' stand-ins: one watch on all
//! NodeImages, each task answered Succeeded at its version with one status write) stand in
//! for node agents; they are allowed here because this measures the scheduler, not pulls.
//!
//! Reports, per case: time from the job's creation to its completion, and storage writes per
//! node (every write bumps the store's revision, so writes = revision after - revision
//! before, over the whole run: task assignments, agent status writes, job status writes).
//! Targets: <= 3 writes per node; 1,000 nodes done in <= 10 s.
//!
//! `cargo bench -p prepull-apiserver --bench scheduler` writes
//! `bench/results/scheduler-<date>.{json,md}`.

#[path = "../../tests/scheduler/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use prepull_api::Kind;
use serde_json::{Value, json};

use support::{Answer, StandInAgents, World};

/// (nodes, parallelism) of each case.
const CASES: [(usize, usize); 4] = [(1_000, 100), (1_000, 1_000), (5_000, 100), (5_000, 1_000)];
/// Nodes registered at once while setting up.
const REGISTER_BATCH: usize = 100;
/// Bound of one case.
const CASE_TIMEOUT: Duration = Duration::from_secs(600);

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut results = Vec::new();
    for (nodes, parallelism) in CASES {
        let name = format!("{nodes}_nodes_parallelism_{parallelism}");
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let figures = runtime.block_on(run_case(nodes, parallelism))?;
        println!("{name}: {figures}");
        results.push(figures);
    }
    let date = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    write_report(&results, &date)
}

async fn run_case(nodes: usize, parallelism: usize) -> Result<Value> {
    let world = World::start().await;
    let names: Vec<String> = (0..nodes).map(|i| format!("node-{i:05}")).collect();
    for batch in names.chunks(REGISTER_BATCH) {
        futures::future::join_all(batch.iter().map(|name| world.register_node(name, &[]))).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), |_| Answer::Succeed).await;
    let store = world.registry.store(Kind::NodeImage);
    let before = store
        .current_revision()
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let started = Instant::now();
    world
        .create_job(
            "wide",
            json!({"image": "app:1", "parallelism": parallelism}),
        )
        .await;
    let status = tokio::time::timeout(CASE_TIMEOUT, async {
        loop {
            if let Some(status) = world.job("wide").await.and_then(|job| job.status)
                && status.completion_time.is_some()
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .context("the job did not complete")?;
    let elapsed = started.elapsed();
    let after = store
        .current_revision()
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    if usize::try_from(status.succeeded)? != nodes {
        bail!("{} of {nodes} nodes succeeded", status.succeeded);
    }
    let writes = after - before;
    world.stop().await;
    Ok(json!({
        "nodes": nodes,
        "parallelism": parallelism,
        "seconds": elapsed.as_secs_f64(),
        "writes": writes,
        "writes_per_node": writes as f64 / nodes as f64,
    }))
}

fn write_report(results: &[Value], date: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::create_dir_all(&dir)?;
    let report = json!({
        "date": date,
        "store": "embedded (redb) behind the watch cache",
        "agents": "simulated: one watch, one status write per task",
        "results": results,
    });
    std::fs::write(
        dir.join(format!("scheduler-{date}.json")),
        serde_json::to_string_pretty(&report)?,
    )?;
    let mut md = format!(
        "# Scheduler benchmark, {date}\n\nOne ImagePullJob, embedded store, simulated agents \
         (`cargo bench -p prepull-apiserver --bench scheduler`). Writes = store revisions \
         consumed from job creation to completion (task assignments, agent status writes, job \
         status writes).\n\n| nodes | parallelism | create -> complete | writes | writes per node |\n|---|---|---|---|---|\n"
    );
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {:.2} s | {} | {:.2} |\n",
            r["nodes"],
            r["parallelism"],
            r["seconds"].as_f64().unwrap_or_default(),
            r["writes"],
            r["writes_per_node"].as_f64().unwrap_or_default()
        ));
    }
    std::fs::write(dir.join(format!("scheduler-{date}.md")), md)?;
    Ok(())
}
