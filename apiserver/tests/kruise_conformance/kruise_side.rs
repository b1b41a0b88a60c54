//! OpenKruise on its own etcd and kube-apiserver: its CRDs, kruise-manager, and per node a
//! Ready Node object, a containerd trusting the test registry and a kruise-daemon. Shared with
//! the side-by-side benchmark (`apiserver/benches/openkruise`).

#![allow(dead_code)]

use prepull_testbed::{
    Containerd, Etcd, Kruise, KruiseDaemon, KubeApiserver, Kubectl, create_ready_node,
};

/// OpenKruise on its own kube-apiserver.
pub struct KruiseSide {
    pub apiserver: KubeApiserver,
    pub kruise: Kruise,
    pub daemons: Vec<KruiseDaemon>,
    _containerds: Vec<Containerd>,
    pub etcd: Etcd,
}

impl KruiseSide {
    pub async fn start(
        registry: &str,
        nodes: &[(&str, &[(&str, &str)])],
    ) -> anyhow::Result<KruiseSide> {
        let etcd = Etcd::start().await?;
        let apiserver = KubeApiserver::start(&etcd).await?;
        let kruise = Kruise::start(&apiserver).await?;
        let mut containerds = Vec::new();
        let mut daemons = Vec::new();
        for (name, labels) in nodes {
            create_ready_node(&apiserver.kubectl(), name, labels).await?;
            let containerd = Containerd::start(&[registry.to_owned()]).await?;
            daemons.push(kruise.start_daemon(&apiserver, name, &containerd).await?);
            containerds.push(containerd);
        }
        Ok(KruiseSide {
            apiserver,
            kruise,
            daemons,
            _containerds: containerds,
            etcd,
        })
    }

    pub fn kubectl(&self) -> Kubectl {
        self.apiserver.kubectl()
    }

    pub fn logs(&self) -> String {
        let mut text = format!("--- kruise-manager ---\n{}", tail(&self.kruise.logs()));
        for daemon in &self.daemons {
            text.push_str(&format!(
                "\n--- kruise-daemon {} ---\n{}",
                daemon.node(),
                tail(&daemon.logs())
            ));
        }
        text
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
