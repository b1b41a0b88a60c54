//! The command line. Every flag has an environment fallback; defaults suit a node where the
//! container runtime listens on its usual socket.

use std::path::PathBuf;

use clap::Parser;

/// Prepull's node agent: pulls the images this node's NodeImage asks for through the container
/// runtime (CRI) and reports each pull in the NodeImage's status.
///
///   prepull-nodeagent --kubeconfig node.kubeconfig --node-name n1 --node-labels zone=a
#[derive(Debug, Parser)]
#[command(name = "prepull-nodeagent", version, about, long_about)]
pub struct Options {
    /// Kubeconfig of this node's identity (standalone: from `prepull-apiserver node-kubeconfig
    /// NODE`). Without it: $KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    #[arg(long, env = "PREPULL_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Name of this node; its NodeImage has this name.
    #[arg(long, env = "NODE_NAME")]
    pub node_name: String,

    /// Labels of this node's NodeImage, `key=value` separated by commas (standalone mode: the
    /// agent registers its NodeImage with them and keeps them there).
    #[arg(long, env = "PREPULL_NODE_LABELS", value_delimiter = ',')]
    pub node_labels: Vec<String>,

    /// The container runtime's CRI socket, `unix:///path` or `/path`. Without it the usual
    /// sockets of containerd, CRI-O and cri-dockerd are tried in that order.
    #[arg(long, env = "PREPULL_CRI_ENDPOINT")]
    pub cri_endpoint: Option<String>,

    /// How many pulls may run at once on this node; the others wait (phase Waiting).
    #[arg(long, env = "PREPULL_MAX_CONCURRENT_PULLS", default_value_t = 2)]
    pub max_concurrent_pulls: usize,

    /// A docker `config.json` with node-level registry credentials (kubelet-style matching).
    #[arg(long, env = "PREPULL_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,

    /// A kubelet CredentialProviderConfig (kubelet.config.k8s.io/v1, YAML or JSON) naming
    /// exec plugins that supply registry credentials.
    #[arg(long, env = "PREPULL_CREDENTIAL_PROVIDER_CONFIG")]
    pub credential_provider_config: Option<PathBuf>,

    /// Directory holding the plugin binaries the provider config names.
    #[arg(
        long,
        env = "PREPULL_CREDENTIAL_PROVIDER_BIN_DIR",
        default_value = "/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec"
    )]
    pub credential_provider_bin_dir: PathBuf,

    /// Port of the health endpoint (`/healthz`, `/metrics`); 0 turns it off.
    #[arg(long, env = "PREPULL_HEALTH_PORT", default_value_t = 10222)]
    pub health_port: u16,

    /// Address the health endpoint listens on (`::`: every address, IPv4 too); e.g.
    /// `127.0.0.1` for an agent beside another on one host.
    #[arg(long, env = "PREPULL_HEALTH_BIND_ADDRESS", default_value = "::")]
    pub health_bind_address: std::net::IpAddr,

    /// Worker threads of the async runtime; 0 runs everything on the main thread (the
    /// agent mostly waits on the network, and each worker thread costs memory).
    #[arg(long, env = "PREPULL_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,

    /// Pin each pulled image in containerd (label `io.cri-containerd.pinned=pinned`, which
    /// kubelet's image GC respects with containerd 1.7+) while a tag of it is in this node's
    /// NodeImage spec. `false` releases the agent's earlier pins and pins nothing.
    #[arg(long, env = "PREPULL_PIN_IMAGES", default_value_t = true, action = clap::ArgAction::Set)]
    pub pin_images: bool,

    /// Give up a pull attempt (and retry it within backoffLimit) when its bytes have not
    /// advanced for this many seconds while a layer download is in flight (containerd only);
    /// 0 turns it off. A job's annotation `prepull.io/stall-timeout-seconds` overrides it.
    #[arg(long, env = "PREPULL_STALL_TIMEOUT_SECONDS", default_value_t = 120)]
    pub stall_timeout_seconds: u64,

    /// Free space to keep on the image filesystem (CRI ImageFsInfo), in percent of its size: a
    /// pull is not started, or is cancelled, when it is or would go below; 0 turns it off.
    #[arg(long, env = "PREPULL_DISK_RESERVE_PERCENT", default_value_t = 15,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub disk_reserve_percent: u8,

    /// Least time between two status writes of this node, in milliseconds: changes in between
    /// are coalesced into one merge patch.
    #[arg(long, env = "PREPULL_STATUS_INTERVAL_MS", default_value_t = 300)]
    pub status_interval_ms: u64,
}
