//! A real etcd cluster of several members (Debian's `/usr/bin/etcd`, one process each) on
//! loopback, for tests where a member, the etcd leader among them, dies while clients write.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut cluster = prepull_testbed::EtcdCluster::start(3).await?;
//! let endpoints = cluster.endpoints(); // every member's client URL
//! let leader = cluster.leader().await?; // index of the member etcd elected
//! cluster.member_mut(leader).stop().await?; // SIGKILL; the others elect a new leader
//! cluster.member_mut(leader).start_again().await?; // rejoins with its data dir
//! # Ok(()) }
//! ```

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;

use crate::etcd::Etcd;
use crate::http_probe::http_get;

/// How long a member may take to report who leads.
const LEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// Members of one etcd cluster; all killed when dropped.
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Etcd>,
}

impl EtcdCluster {
    /// Starts `size` members forming one new cluster (plain HTTP, free ports, own temp dirs)
    /// and waits until every one is healthy (the cluster has a leader).
    pub async fn start(size: usize) -> anyhow::Result<EtcdCluster> {
        if size == 0 {
            bail!("an etcd cluster needs at least one member");
        }
        let mut members = Vec::with_capacity(size);
        for index in 0..size {
            let mut member = Etcd::unstarted(false)?;
            member.name = format!("member-{index}");
            members.push(member);
        }
        let initial: Vec<String> = members.iter().map(Etcd::peer_entry).collect();
        let initial = initial.join(",");
        for member in &mut members {
            member.initial_cluster = Some(initial.clone());
            member.spawn()?;
        }
        for member in &mut members {
            member
                .wait_until_healthy()
                .await
                .with_context(|| format!("etcd {} did not join", member.name))?;
        }
        Ok(EtcdCluster { members })
    }

    /// Every member's client URL, comma-separated, as `--etcd-servers` takes them.
    pub fn endpoints(&self) -> String {
        let urls: Vec<String> = self.members.iter().map(Etcd::endpoint).collect();
        urls.join(",")
    }

    /// Member `index`.
    pub fn member(&self, index: usize) -> &Etcd {
        &self.members[index]
    }

    /// Member `index`, to stop or start again.
    pub fn member_mut(&mut self, index: usize) -> &mut Etcd {
        &mut self.members[index]
    }

    /// The index of the member that leads now, as the running members see it (their
    /// `etcd_server_is_leader` metric); waits until one does.
    pub async fn leader(&mut self) -> anyhow::Result<usize> {
        let deadline = Instant::now() + LEADER_TIMEOUT;
        loop {
            for (index, member) in self.members.iter_mut().enumerate() {
                if !member.is_running() {
                    continue;
                }
                let metrics = http_get(member.client_port(), "/metrics", Duration::from_secs(2))
                    .await
                    .map(|answer| answer.body)
                    .unwrap_or_default();
                if metrics
                    .lines()
                    .any(|line| line == "etcd_server_is_leader 1")
                {
                    return Ok(index);
                }
            }
            if Instant::now() >= deadline {
                bail!("no etcd member reported itself leader within {LEADER_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
