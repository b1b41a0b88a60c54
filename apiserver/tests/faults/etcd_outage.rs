//! etcd failing under a running system: stopped for 20 s, its leader member killed in a
//! 3-member cluster, and its space quota used up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use etcd_client::{AlarmAction, AlarmType, CompactionOptions};
use prepull_testbed::kubectl_steps::job;
use prepull_testbed::system::System;
use prepull_testbed::{Etcd, EtcdCluster, Kubectl, eventually};
use tokio::time::Instant;

use crate::bed::{
    Bed, all_complete, figures, flags, proxy_for, pulled_once_each, push_images, start_jobs,
    under_way,
};

/// How long etcd stays down.
const OUTAGE: Duration = Duration::from_secs(20);
/// The longest a request may take to fail while etcd is down: the storage's 5 s deadline per
/// etcd call, for the two calls of a consistent read, plus kubectl's own start.
const FAIL_FAST: Duration = Duration::from_secs(12);

pub async fn etcd_stopped_for_20s_mid_job_fails_requests_fast_and_the_job_completes(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut etcd = Etcd::start().await?;
    let system = bed
        .system(
            "etcd-down",
            &flags(&["--etcd-servers", &etcd.endpoint()]),
            2,
        )
        .await?;
    let result = etcd_down(&system, &mut etcd).await;
    result.with_context(|| format!("{}\n--- etcd ---\n{}", system.logs(), etcd.logs()))
}

async fn etcd_down(system: &System, etcd: &mut Etcd) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    proxy.throttle(150_000);
    let images = push_images(system, &proxy, "etcd-down", 2, 300_000).await?;
    let jobs = start_jobs(system, "etcd-down", &images, "  parallelism: 1\n").await?;
    let kubectl = system.kubectl();
    under_way(kubectl, &jobs[0]).await?;
    etcd.stop().await?;
    let stopped = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut requests = 0;
    while stopped.elapsed() < OUTAGE {
        for args in [
            &["get", "imagepulljobs", "--request-timeout=60s"][..],
            &["get", "--raw", "/readyz", "--request-timeout=60s"][..],
        ] {
            let begun = Instant::now();
            let answer = kubectl.run(args).await;
            let took = begun.elapsed();
            slowest = slowest.max(took);
            requests += 1;
            let error = match answer {
                Ok(out) => bail!("kubectl {args:?} succeeded while etcd is down: {out}"),
                Err(error) => format!("{error:#}"),
            };
            ensure!(
                took <= FAIL_FAST,
                "kubectl {args:?} took {took:?} to fail: {error}"
            );
            if args[1] == "imagepulljobs" {
                ensure!(
                    error.contains("ServiceUnavailable")
                        || error.contains("unavailable")
                        || error.contains("Timeout"),
                    "not a 503/504 with a message: {error}"
                );
            }
        }
    }
    let down_for = stopped.elapsed();
    etcd.start_again().await?;
    let restarted = Instant::now();
    all_complete(kubectl, &jobs, 120).await?;
    let duplicates = pulled_once_each(system, &jobs, &images).await?;
    figures(
        "etcd-down",
        &format!(
            "etcd down {down_for:.1?}, {requests} requests all failed, slowest {slowest:.1?}; jobs complete {:.1?} after etcd returned; duplicate_pull_orders={duplicates}",
            restarted.elapsed()
        ),
    );
    ensure!(duplicates == 0, "{duplicates} duplicate pull orders");
    Ok(())
}

pub async fn a_3_member_etcd_loses_its_leader_mid_job_and_keeps_every_acknowledged_write(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let mut cluster = EtcdCluster::start(3).await?;
    let system = bed
        .system(
            "etcd-3",
            &flags(&["--etcd-servers", &cluster.endpoints()]),
            2,
        )
        .await?;
    let result = leader_member_killed(&system, &mut cluster).await;
    result.with_context(|| {
        let mut logs = system.logs();
        for i in 0..3 {
            logs.push_str(&format!(
                "\n--- etcd member {i} ---\n{}",
                cluster.member(i).logs()
            ));
        }
        logs
    })
}

async fn leader_member_killed(system: &System, cluster: &mut EtcdCluster) -> anyhow::Result<()> {
    let proxy = proxy_for(system).await?;
    proxy.throttle(150_000);
    let images = push_images(system, &proxy, "etcd-3", 2, 300_000).await?;
    let jobs = start_jobs(system, "etcd-3", &images, "  parallelism: 1\n").await?;
    let kubectl = system.kubectl().clone();
    under_way(&kubectl, &jobs[0]).await?;
    // Writes acknowledged before, during and after the leader's death.
    let progress = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write_for(
        kubectl.clone(),
        Duration::from_secs(12),
        progress.clone(),
    ));
    eventually(
        "a few writes are acknowledged",
        Duration::from_secs(30),
        || async {
            ensure!(progress.load(Ordering::SeqCst) >= 5, "not yet");
            Ok(())
        },
    )
    .await?;
    let leader = cluster.leader().await?;
    cluster.member_mut(leader).stop().await?;
    let killed = Instant::now();
    let new_leader = cluster.leader().await?;
    let elected = killed.elapsed();
    let (acked, refused) = writer.await?;
    cluster.member_mut(leader).start_again().await?;
    let listed = kubectl
        .run(&["get", "imagepulljobs", "-l", "fault=acked", "-o", "name"])
        .await?;
    let lost: Vec<&String> = acked
        .iter()
        .filter(|name| !listed.contains(&format!("imagepulljob.apps.kruise.io/{name}")))
        .collect();
    all_complete(&kubectl, &jobs, 120).await?;
    let duplicates = pulled_once_each(system, &jobs, &images).await?;
    figures(
        "etcd-3",
        &format!(
            "leader member {leader} killed, member {new_leader} led after {elected:.1?}; writes acknowledged={} refused={} lost={}; duplicate_pull_orders={duplicates}",
            acked.len(),
            refused,
            lost.len()
        ),
    );
    ensure!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    ensure!(!acked.is_empty(), "no write was acknowledged");
    ensure!(duplicates == 0, "{duplicates} duplicate pull orders");
    Ok(())
}

/// Creates ImagePullJobs `acked-<n>` (targeting no node) one after the other for `how_long`;
/// returns the names acknowledged and how many were refused.
async fn write_for(
    kubectl: Kubectl,
    how_long: Duration,
    progress: Arc<AtomicUsize>,
) -> (Vec<String>, usize) {
    let started = Instant::now();
    let mut acked = Vec::new();
    let mut refused = 0;
    let mut n = 0;
    while started.elapsed() < how_long {
        let name = format!("acked-{n}");
        n += 1;
        let manifest = job(
            &name,
            "127.0.0.1:1/none:v1",
            "  selector:\n    names: [nobody]\n",
        )
        .replace(
            "  namespace: default\n",
            "  namespace: default\n  labels:\n    fault: acked\n",
        );
        match kubectl
            .run_with_stdin(
                &["create", "-f", "-", "--request-timeout=30s"],
                Some(&manifest),
            )
            .await
        {
            Ok(_) => {
                acked.push(name);
                progress.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => refused += 1,
        }
    }
    (acked, refused)
}

/// A 4 MiB quota: a few dozen updates of a 200 KB object fill it with history.
const QUOTA_BYTES: u64 = 4 * 1024 * 1024;

pub async fn etcd_over_its_space_quota_answers_507_and_recovers_once_freed(
    bed: &mut Bed,
) -> anyhow::Result<()> {
    let etcd = Etcd::start_with_quota(QUOTA_BYTES).await?;
    let system = bed
        .system(
            "etcd-quota",
            &flags(&["--etcd-servers", &etcd.endpoint()]),
            0,
        )
        .await?;
    let result = over_quota(&system, &etcd).await;
    result.with_context(|| format!("{}\n--- etcd ---\n{}", system.logs(), etcd.logs()))
}

async fn over_quota(system: &System, etcd: &Etcd) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let big = "x".repeat(200_000);
    let object = |n: usize| {
        job(
            "quota",
            "127.0.0.1:1/none:v1",
            "  selector:\n    names: [nobody]\n",
        )
        .replace(
            "  namespace: default\n",
            &format!("  namespace: default\n  annotations:\n    blob: \"{n}{big}\"\n"),
        )
    };
    kubectl
        .run_with_stdin(&["create", "-f", "-"], Some(&object(0)))
        .await?;
    let mut updates = 0;
    let refusal = loop {
        updates += 1;
        ensure!(updates < 200, "etcd never refused a write");
        match kubectl
            .run_with_stdin(&["replace", "-f", "-"], Some(&object(updates)))
            .await
        {
            Ok(_) => continue,
            Err(error) => break format!("{error:#}"),
        }
    };
    ensure!(
        refusal.contains("InsufficientStorage") && refusal.contains("NOSPACE"),
        "not a 507 naming the alarm: {refusal}"
    );
    let reads = kubectl
        .run(&["get", "imagepulljob", "quota", "-o", "name"])
        .await?;
    ensure!(reads.contains("quota"), "reads keep working: {reads}");
    let ready = kubectl.run(&["get", "--raw", "/readyz"]).await;
    ensure!(
        ready.is_err(),
        "ready while no write can succeed: {ready:?}"
    );

    // The operator's remedy: compact, defragment, disarm.
    let mut client = etcd_client::Client::connect([etcd.endpoint()], None).await?;
    let revision = client
        .get("x", None)
        .await?
        .header()
        .map(|h| h.revision())
        .context("a header")?;
    client
        .compact(revision, Some(CompactionOptions::new().with_physical()))
        .await?;
    client.defragment().await?;
    let alarms = client
        .alarm(AlarmAction::Get, AlarmType::None, None)
        .await?;
    for alarm in alarms.alarms() {
        client
            .alarm(
                AlarmAction::Deactivate,
                AlarmType::Nospace,
                Some(member(alarm.member_id())),
            )
            .await?;
    }
    let freed = Instant::now();
    eventually("writes work again", Duration::from_secs(30), || async {
        kubectl.run(&["get", "--raw", "/readyz"]).await?;
        kubectl
            .run(&[
                "annotate",
                "imagepulljob",
                "quota",
                "freed=yes",
                "--overwrite",
            ])
            .await
    })
    .await?;
    figures(
        "etcd-quota",
        &format!(
            "quota {QUOTA_BYTES} B reached after {updates} updates of 200 KB; refused with 507 naming NOSPACE; reads served; not ready; writable {:.1?} after compaction, defragmentation and disarm, no restart",
            freed.elapsed()
        ),
    );
    Ok(())
}

fn member(id: u64) -> etcd_client::AlarmOptions {
    let mut options = etcd_client::AlarmOptions::new();
    options.with_member(id);
    options
}
