//! A registry that answers 503 or resets connections mid-blob: the pull is retried within
//! `backoffLimit` and succeeds.

use anyhow::{Context, ensure};
use prepull_testbed::ProxyFault;
use prepull_testbed::system::System;

use crate::bed::{
    Bed, all_complete, figures, proxy_for, pulled_once_each, push_images, start_jobs,
};

pub async fn a_registry_answering_503_twice_succeeds_within_the_backoff_limit(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let system = bed.system("registry-503", &[], 1).await?;
    let result = flaky(
        &system,
        "registry-503",
        "/manifests/",
        ProxyFault::Unavailable,
        2,
    )
    .await;
    result.with_context(|| system.logs())
}

pub async fn a_registry_resetting_the_connection_mid_blob_is_retried(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let system = bed.system("registry-reset", &[], 1).await?;
    let result = flaky(
        &system,
        "registry-reset",
        "/blobs/",
        ProxyFault::ResetMidBody,
        1,
    )
    .await;
    result.with_context(|| system.logs())
}

async fn flaky(
    system: &System,
    label: &str,
    path: &str,
    fault: ProxyFault,
    times: usize,
) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    let images = push_images(system, &proxy, label, 1, 200_000).await?;
    proxy.inject(path, fault, times);
    let spec = "  pullPolicy:\n    backoffLimit: 3\n";
    let jobs = start_jobs(system, label, &images, spec).await?;
    all_complete(system.kubectl(), &jobs, 90).await?;
    let duplicates = pulled_once_each(system, &jobs, &images).await?;
    figures(
        label,
        &format!(
            "{} of {times} injected {fault:?} served; Succeeded; registry requests {}",
            proxy.faults_served(),
            proxy.request_log().len()
        ),
    );
    ensure!(
        proxy.faults_served() == times,
        "the faults were not all met: {:?}",
        proxy.request_log()
    );
    ensure!(duplicates == 0, "{duplicates} duplicate pull orders");
    Ok(())
}
