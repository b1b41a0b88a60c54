//! The API server SIGKILLed while jobs run, on the embedded store and on etcd: after the
//! restart (same data, same port) every job completes and no node got a second pull order.

use anyhow::Context;
use prepull_testbed::Etcd;
use prepull_testbed::system::System;
use tokio::time::Instant;

use crate::bed::{
    Bed, all_complete, figures, flags, proxy_for, pulled_once_each, push_images, start_jobs,
    under_way,
};

/// Three jobs of 2 nodes each, pulls of ~300 KB at 150 KB/s: about 2 s per pull.
const IMAGES: usize = 3;
const LAYER_BYTES: usize = 300_000;
const LINK_BYTES_PER_SECOND: usize = 150_000;

pub async fn the_server_killed_mid_job_on_the_embedded_store_completes_after_restart(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut system = bed.system("kill-embedded", &[], 2).await?;
    let result = killed_mid_job(&mut system, "kill-embedded").await;
    result.with_context(|| system.logs())
}

pub async fn the_server_killed_mid_job_on_etcd_completes_after_restart(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let mut system = bed
        .system(
            "kill-etcd",
            &flags(&["--etcd-servers", &etcd.endpoint()]),
            2,
        )
        .await?;
    let result = killed_mid_job(&mut system, "kill-etcd").await;
    result.with_context(|| format!("{}\n--- etcd ---\n{}", system.logs(), etcd.logs()))
}

async fn killed_mid_job(system: &mut System, label: &str) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    proxy.throttle(LINK_BYTES_PER_SECOND);
    let images = push_images(system, &proxy, label, IMAGES, LAYER_BYTES).await?;
    let jobs = start_jobs(system, label, &images, "  parallelism: 1\n").await?;
    under_way(system.kubectl(), &jobs[0]).await?;
    let killed = Instant::now();
    system.server.restart_after_kill().await?;
    let ready_again = killed.elapsed();
    all_complete(system.kubectl(), &jobs, 120).await?;
    let completed = killed.elapsed();
    let duplicates = pulled_once_each(system, &jobs, &images).await?;
    figures(
        label,
        &format!(
            "faults=1 (SIGKILL) jobs={} ready_again={ready_again:.1?} all_complete={completed:.1?} duplicate_pull_orders={duplicates}",
            jobs.len()
        ),
    );
    anyhow::ensure!(duplicates == 0, "{duplicates} duplicate pull orders");
    Ok(())
}
