//! Two API server replicas on one real etcd: the leader runs the scheduler, it is killed
//! (SIGKILL) while jobs run, the other replica takes over within the lease TTL, and every
//! job completes with each node's task done exactly once.

use std::time::Duration;

use anyhow::{Context, ensure};
use prepull_testbed::{Etcd, eventually};
use tokio::time::Instant;

use prepull_testbed::kubectl_steps::{apply, counters, job, job_status, tag_owners, wait_for};
use prepull_testbed::system::{Server, System, start_agent};

/// The replicas' lease TTL.
const LEASE_SECONDS: u64 = 3;
/// The log line of a replica that won the election.
const LEADS: &str = "this replica leads";

pub async fn a_killed_leader_is_replaced_within_the_lease_and_every_job_completes(
    system: &System,
) -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let dir = system.dir.join("failover");
    std::fs::create_dir_all(&dir)?;
    let flags = |identity: &str| -> Vec<String> {
        [
            "--etcd-servers",
            &etcd.endpoint(),
            "--leader-elect-lease-seconds",
            &LEASE_SECONDS.to_string(),
            "--leader-elect-identity",
            identity,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let apiserver = &system.binaries.apiserver;
    let mut first = Server::start(
        apiserver,
        &dir.join("a"),
        &flags("replica-a"),
        dir.join("a.log"),
    )
    .await?;
    eventually("replica-a leads", Duration::from_secs(20), || async {
        ensure!(first.process.logs().contains(LEADS), "not yet");
        Ok(())
    })
    .await?;
    let second = Server::start(
        apiserver,
        &dir.join("b"),
        &flags("replica-b"),
        dir.join("b.log"),
    )
    .await?;
    ensure!(
        !second.process.logs().contains(LEADS),
        "only one replica leads"
    );

    // Two more nodes, on the shared containerds, whose agents talk to the surviving replica.
    let mut agents = Vec::new();
    for (index, node) in system.nodes.iter().take(2).enumerate() {
        let name = format!("failover-{index}");
        agents.push(
            start_agent(
                &system.binaries.agent,
                &second,
                &dir,
                &name,
                &[],
                &node.containerd,
            )
            .await?,
        );
    }
    let mut manifests = Vec::new();
    let mut images = Vec::new();
    for n in 0..6 {
        let image = system.push_image("e2e/failover", &format!("v{n}")).await?;
        let spec = "  parallelism: 1\n  selector:\n    names: [failover-0, failover-1]\n";
        let manifest = job(&format!("failover-{n}"), &image, spec).replace(
            "  namespace: default\n",
            "  namespace: default\n  labels:\n    e2e: failover\n",
        );
        manifests.push(manifest);
        images.push(image);
    }
    apply(&second.kubectl, &manifests.join("---\n")).await?;
    // The leader is at work when it dies.
    eventually("replica-a schedules", Duration::from_secs(30), || async {
        let status = job_status(&second.kubectl, "failover-0").await?;
        let (_, succeeded, _, active) = counters(&status);
        ensure!(active + succeeded > 0, "{status}");
        Ok(())
    })
    .await?;
    first.process.kill().await;
    let killed = Instant::now();
    eventually("replica-b takes over", Duration::from_secs(30), || async {
        ensure!(second.process.logs().contains(LEADS), "not yet");
        Ok(())
    })
    .await?;
    let takeover = killed.elapsed();
    println!("    takeover {takeover:?} after the leader was killed (lease {LEASE_SECONDS} s)");
    ensure!(
        takeover <= Duration::from_secs(LEASE_SECONDS + 1),
        "took {takeover:?}"
    );
    wait_for(
        &second.kubectl,
        "condition=Complete",
        "imagepulljob -l e2e=failover",
        90,
    )
    .await
    .with_context(|| format!("--- replica-b ---\n{}", second.process.logs()))?;
    for (n, image) in images.iter().enumerate() {
        let name = format!("failover-{n}");
        let status = job_status(&second.kubectl, &name).await?;
        ensure!(counters(&status) == (2, 2, 0, 0), "{name}: {status}");
        for node in ["failover-0", "failover-1"] {
            let (owners, version) = tag_owners(&second.kubectl, node, image).await?;
            ensure!(owners == [name.clone()], "{node}: {owners:?}");
            ensure!(
                version == 1,
                "{node} {image}: pulled once, at version 1, not {version}"
            );
        }
    }
    drop(agents);
    Ok(())
}
