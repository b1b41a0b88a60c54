//! The durability check: writers create and update objects through the HTTP API while the
//! server is SIGKILLed at random moments and started again; afterwards every acknowledged
//! create is there, no object went back behind an acknowledged update, and no update is half
//! applied (each update sets a label and an annotation together; they must agree).
//!
//! `PREPULL_DURABILITY_CYCLES=N` (default 10) sets how many kills; `PREPULL_DURABILITY_SEED`
//! replays the kill timing printed by a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use kube::Api;
use kube::api::{ListParams, PatchParams, PostParams};
use prepull_api::ImagePullJob;
use prepull_testbed::Etcd;
use prepull_testbed::system::System;
use tokio::time::Instant;

use crate::bed::{Bed, figures, flags};
use crate::kube_client::{idle_job, jobs_api, seq_patch, seqs};

/// Concurrent writers.
const WRITERS: usize = 4;
/// Updates per object after its create.
const UPDATES: u64 = 3;

pub async fn acknowledged_writes_survive_random_server_kills_on_the_embedded_store(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut system = bed.system("durable-embedded", &[], 0).await?;
    let result = durability(&mut system, "durable-embedded").await;
    result.with_context(|| system.logs())
}

pub async fn acknowledged_writes_survive_random_server_kills_on_etcd(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let mut system = bed
        .system(
            "durable-etcd",
            &flags(&["--etcd-servers", &etcd.endpoint()]),
            0,
        )
        .await?;
    let result = durability(&mut system, "durable-etcd").await;
    result.with_context(|| format!("{}\n--- etcd ---\n{}", system.logs(), etcd.logs()))
}

/// What one writer knows about one object.
#[derive(Debug, Default)]
struct Record {
    name: String,
    /// The create was answered with success.
    created: bool,
    /// The highest `seq` whose write was answered with success (0: the create).
    acked: Option<u64>,
    /// The highest `seq` sent, answered or not.
    sent: u64,
}

async fn durability(system: &mut System, label: &str) -> anyhow::Result<()> {
    let cycles: usize = std::env::var("PREPULL_DURABILITY_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("PREPULL_DURABILITY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("    {label}: {cycles} kills, PREPULL_DURABILITY_SEED={seed}");
    let mut timing = fastrand::Rng::with_seed(seed);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let api = jobs_api(system).await?;
        writers.push(tokio::spawn(write_until(
            api,
            format!("{label}-{w}"),
            label.to_owned(),
            stop.clone(),
        )));
    }
    let started = Instant::now();
    let mut restarts = Vec::new();
    for _ in 0..cycles {
        // A kill lands at a random moment of the writers' work.
        tokio::time::sleep(Duration::from_millis(timing.u64(100..900))).await;
        let killed = Instant::now();
        system.server.restart_after_kill().await?;
        restarts.push(killed.elapsed());
    }
    // A last stretch with the server up, so the writers' retries get answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut records = Vec::new();
    for writer in writers {
        records.extend(writer.await?);
    }
    let api = jobs_api(system).await?;
    let stored = api
        .list(&ListParams::default().labels(&format!("fault={label}")))
        .await?;
    let mut lost = Vec::new();
    let mut behind = Vec::new();
    let mut half = Vec::new();
    let acked_writes: u64 = records
        .iter()
        .map(|r| r.acked.map_or(0, |seq| seq + 1))
        .sum();
    for record in &records {
        let found = stored
            .items
            .iter()
            .find(|job| job.metadata.name.as_deref() == Some(record.name.as_str()));
        let Some(job) = found else {
            if record.created {
                lost.push(record.name.clone());
            }
            continue;
        };
        let (in_label, in_annotation) = seqs(job);
        if in_label != in_annotation {
            half.push(format!(
                "{}: {in_label:?} vs {in_annotation:?}",
                record.name
            ));
        }
        let seq = in_label.unwrap_or(0);
        if record.acked.is_some_and(|acked| seq < acked) || seq > record.sent {
            behind.push(format!("{}: stored {seq}, {record:?}", record.name));
        }
    }
    let slowest = restarts.iter().max().copied().unwrap_or_default();
    figures(
        label,
        &format!(
            "{cycles} SIGKILLs in {:.1?}; objects {}; writes acknowledged {acked_writes}; lost {}; behind an ack {}; half-applied {}; slowest restart to ready {slowest:.1?}",
            started.elapsed(),
            records.len(),
            lost.len(),
            behind.len(),
            half.len()
        ),
    );
    ensure!(
        lost.is_empty() && behind.is_empty() && half.is_empty(),
        "lost {lost:?}; behind {behind:?}; half-applied {half:?}"
    );
    ensure!(acked_writes > 0, "no write was acknowledged");
    Ok(())
}

/// Creates objects `<prefix>-<n>` and updates each [`UPDATES`] times, until `stop`.
async fn write_until(
    api: Api<ImagePullJob>,
    prefix: String,
    label: String,
    stop: Arc<AtomicBool>,
) -> Vec<Record> {
    let mut records = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut record = Record {
            name: format!("{prefix}-{n}"),
            ..Record::default()
        };
        n += 1;
        let Ok(job) = idle_job(&record.name, &label, 0, 256) else {
            break;
        };
        match api.create(&PostParams::default(), &job).await {
            Ok(_) => {
                record.created = true;
                record.acked = Some(0);
            }
            // Unanswered: it may or may not exist; go on with the next object, pausing a
            // little while the server is down.
            Err(_) => {
                records.push(record);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        }
        for seq in 1..=UPDATES {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            record.sent = seq;
            if api
                .patch(&record.name, &PatchParams::default(), &seq_patch(seq))
                .await
                .is_ok()
            {
                record.acked = Some(seq);
            }
        }
        records.push(record);
    }
    records
}
