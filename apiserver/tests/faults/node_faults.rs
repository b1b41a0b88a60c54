//! Faults on a node: its agent SIGKILLed mid-pull or after a pull, its containerd restarted
//! mid-pull.

use std::time::Duration;

use anyhow::{Context, ensure};
use prepull_testbed::eventually;
use prepull_testbed::kubectl_steps::tag_status;
use prepull_testbed::system::System;
use tokio::time::Instant;

use crate::bed::{
    Bed, all_complete, figures, proxy_for, pulled_once_each, push_images, start_jobs,
};

/// A ~400 KB layer at 100 KB/s: a pull of about 4 s, long enough to be caught in Pulling.
const LAYER_BYTES: usize = 400_000;
const LINK_BYTES_PER_SECOND: usize = 100_000;

/// Waits until the tag of `image` on the system's only node is Pulling.
async fn pulling(system: &System, image: &str) -> anyhow::Result<()> {
    let node = &system.nodes[0].name;
    eventually("the tag is Pulling", Duration::from_secs(60), || async {
        let status = tag_status(system.kubectl(), node, image).await?;
        ensure!(
            status
                .as_ref()
                .is_some_and(|(phase, _, _)| phase == "Pulling"),
            "{status:?}"
        );
        Ok(())
    })
    .await
}

pub async fn an_agent_killed_mid_pull_and_restarted_ends_succeeded_at_the_same_version(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut system = bed.system("agent-kill", &[], 1).await?;
    let result = agent_killed(&mut system).await;
    result.with_context(|| system.logs())
}

async fn agent_killed(system: &mut System) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    proxy.throttle(LINK_BYTES_PER_SECOND);
    let images = push_images(system, &proxy, "agent-kill", 1, LAYER_BYTES).await?;
    let jobs = start_jobs(system, "agent-kill", &images, "").await?;
    pulling(system, &images[0]).await?;
    let killed = Instant::now();
    system.nodes[0].agent.start_again().await?;
    all_complete(system.kubectl(), &jobs, 120).await?;
    let duplicates = pulled_once_each(system, &jobs, &images).await?;
    figures(
        "agent-kill",
        &format!(
            "agent SIGKILLed while Pulling and restarted; Succeeded {:.1?} later at version 1; duplicate_pull_orders={duplicates}",
            killed.elapsed()
        ),
    );
    ensure!(duplicates == 0, "{duplicates} duplicate pull orders");
    Ok(())
}

pub async fn an_agent_restarted_after_a_pull_does_not_ask_the_registry_again(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut system = bed.system("agent-restart", &[], 1).await?;
    let result = agent_restarted(&mut system).await;
    result.with_context(|| system.logs())
}

async fn agent_restarted(system: &mut System) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    let first = push_images(system, &proxy, "agent-restart/first", 1, 10_000).await?;
    let jobs = start_jobs(system, "agent-restart-first", &first, "").await?;
    all_complete(system.kubectl(), &jobs, 60).await?;
    let before = proxy.requests("/agent-restart/first/");
    ensure!(before > 0, "the first pull went through the proxy");
    system.nodes[0].agent.start_again().await?;
    // Once a later job completes on the node, the restarted agent has gone through its whole
    // spec, the first tag included.
    let second = push_images(system, &proxy, "agent-restart/second", 1, 10_000).await?;
    let later = start_jobs(system, "agent-restart-second", &second, "").await?;
    all_complete(system.kubectl(), &later, 60).await?;
    let after = proxy.requests("/agent-restart/first/");
    figures(
        "agent-restart",
        &format!(
            "registry requests for the pulled image: {before} before the restart, {after} after"
        ),
    );
    ensure!(
        after == before,
        "the restarted agent asked the registry again: {:?}",
        proxy.request_log()
    );
    ensure!(pulled_once_each(system, &jobs, &first).await? == 0);
    Ok(())
}

pub async fn containerd_restarted_mid_pull_never_leaves_the_tag_pulling(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut system = bed.system("containerd-restart", &[], 1).await?;
    let result = containerd_restarted(&mut system).await;
    result.with_context(|| {
        format!(
            "{}\n--- containerd ---\n{}",
            system.logs(),
            system.nodes[0].containerd.logs()
        )
    })
}

async fn containerd_restarted(system: &mut System) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    proxy.throttle(LINK_BYTES_PER_SECOND);
    let images = push_images(system, &proxy, "containerd-restart", 1, LAYER_BYTES).await?;
    let jobs = start_jobs(system, "containerd-restart", &images, "").await?;
    pulling(system, &images[0]).await?;
    let restarted = Instant::now();
    system.nodes[0].containerd.stop().await?;
    system.nodes[0].containerd.start_again().await?;
    all_complete(system.kubectl(), &jobs, 120).await?;
    let node = &system.nodes[0].name;
    let (phase, _, message) = tag_status(system.kubectl(), node, &images[0])
        .await?
        .context("a status entry")?;
    figures(
        "containerd-restart",
        &format!(
            "containerd killed and restarted while Pulling; the tag ended {phase} {:.1?} later ({message})",
            restarted.elapsed()
        ),
    );
    ensure!(
        phase == "Succeeded" || (phase == "Failed" && !message.is_empty()),
        "{phase}: {message:?}"
    );
    Ok(())
}
