//! A watcher that reads nothing for 60 s while 10,000 events pass: the server's memory stays
//! bounded and the other watchers see every event at once.
//!
//! A stalled watch costs the server nothing but its connection: a watch is a cursor into the
//! store's history, so the server holds no queue for it; TCP pushes back once the socket
//! buffers are full. When the watcher reads again it resumes where it stopped (or, if its
//! place was compacted meanwhile, gets 410 Expired and re-lists, as clients do).

use std::time::Duration;

use anyhow::{Context, ensure};
use futures::{StreamExt, TryStreamExt};
use kube::api::{PatchParams, PostParams, WatchEvent, WatchParams};
use prepull_testbed::system::System;
use tokio::time::Instant;

use crate::bed::{Bed, figures};
use crate::kube_client::{idle_job, jobs_api, seq_patch, seqs};

const OBJECTS: u64 = 8;
const EVENTS: u64 = 10_000;
const STALL: Duration = Duration::from_secs(60);

pub async fn a_watcher_reading_nothing_for_60s_while_10k_events_pass_costs_no_server_memory(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let system = bed.system("slow-watcher", &[], 0).await?;
    let result = slow_watcher(&system).await;
    result.with_context(|| system.logs())
}

/// The server's resident memory in KiB.
fn rss_kib(system: &System) -> anyhow::Result<u64> {
    let pid = system.server.process.id().context("the server runs")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS in /proc/<pid>/status")
}

async fn slow_watcher(system: &System) -> anyhow::Result<()> {
    let api = jobs_api(system).await?;
    for i in 0..OBJECTS {
        api.create(
            &PostParams::default(),
            &idle_job(&format!("watched-{i}"), "watched", 0, 1024)?,
        )
        .await?;
    }
    let params = WatchParams::default().labels("fault=watched");
    // The slow one: opened, then not read.
    let mut slow = api.watch(&params, "0").await?.boxed();
    let stalled = Instant::now();
    // A normal one, counting what it sees.
    let mut normal = api.watch(&params, "0").await?.boxed();
    let per_object = EVENTS / OBJECTS;
    let counted = tokio::spawn(async move {
        let mut latest = std::collections::BTreeMap::new();
        while let Ok(Some(event)) = normal.try_next().await {
            if let WatchEvent::Modified(job) = event {
                let name = job.metadata.name.clone().unwrap_or_default();
                latest.insert(name, seqs(&job).0.unwrap_or(0));
                if latest.len() as u64 == OBJECTS && latest.values().all(|s| *s == per_object) {
                    return Ok(Instant::now());
                }
            }
        }
        anyhow::bail!("the normal watch ended before the last update: {latest:?}")
    });
    let baseline = rss_kib(system)?;
    let mut peak = baseline;
    let mut writers = Vec::new();
    for i in 0..OBJECTS {
        let api = api.clone();
        writers.push(tokio::spawn(async move {
            for seq in 1..=per_object {
                api.patch(
                    &format!("watched-{i}"),
                    &PatchParams::default(),
                    &seq_patch(seq),
                )
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    let writing = Instant::now();
    while writers.iter().any(|w| !w.is_finished()) {
        peak = peak.max(rss_kib(system)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for writer in writers {
        writer.await??;
    }
    let written = writing.elapsed();
    let normal_done = counted.await??;
    let normal_lag = normal_done.saturating_duration_since(writing + written);
    // The scenario: the slow watcher reads nothing for a whole minute.
    tokio::time::sleep(STALL.saturating_sub(stalled.elapsed())).await;
    peak = peak.max(rss_kib(system)?);
    // Now it reads: every object's last update arrives, in order.
    let resumed = Instant::now();
    let mut last = std::collections::BTreeMap::new();
    let mut events = 0u64;
    let mut updates = 0u64;
    let deadline = resumed + Duration::from_secs(60);
    while !(last.len() as u64 == OBJECTS && last.values().all(|s| *s == per_object)) {
        ensure!(
            Instant::now() < deadline,
            "the slow watcher did not catch up: {last:?}"
        );
        let event = tokio::time::timeout(Duration::from_secs(30), slow.try_next())
            .await
            .context("the slow watcher got nothing for 30 s")??
            .context("the slow watch ended")?;
        match event {
            WatchEvent::Modified(job) => {
                events += 1;
                let name = job.metadata.name.clone().unwrap_or_default();
                let (seq, _) = seqs(&job);
                let seq = seq.unwrap_or(0);
                let previous = last.insert(name.clone(), seq).unwrap_or(0);
                // Status writes of the scheduler change nothing of `seq`.
                ensure!(
                    seq == previous || seq == previous + 1,
                    "{name}: {previous} then {seq}"
                );
                if seq == previous + 1 {
                    updates += 1;
                }
            }
            WatchEvent::Error(status) => {
                anyhow::bail!("the slow watcher got an error: {status:?}");
            }
            _ => {}
        }
    }
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    figures(
        "slow-watcher",
        &format!(
            "{EVENTS} events written in {written:.1?}; normal watcher saw the last {normal_lag:.1?} after the last write; slow watcher stalled {:.0?}, then read {events} events ({updates} updates, in order) in {:.1?}; server RSS {} MiB -> peak {} MiB (+{growth_mib} MiB)",
            resumed.duration_since(stalled),
            resumed.elapsed(),
            baseline / 1024,
            peak / 1024
        ),
    );
    ensure!(
        updates == EVENTS,
        "the slow watcher saw {updates} of {EVENTS} updates"
    );
    ensure!(growth_mib < 128, "server memory grew {growth_mib} MiB");
    Ok(())
}
