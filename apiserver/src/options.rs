//! The command line. Every flag has an environment fallback (`PREPULL_<FLAG>`) and the default a
//! user would expect for a local run.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Prepull's API server: serves apps.kruise.io ImagePullJob, ImageListPullJob and NodeImage.
///
/// Standalone (no Kubernetes cluster needed):
///   prepull-apiserver --standalone --data-dir ./prepull-data
/// then `export KUBECONFIG=./prepull-data/kubeconfig` and use kubectl.
///
/// Cluster mode (the default; behind kube-apiserver's aggregation layer, see manifests/):
///   prepull-apiserver --tls-cert-file tls.crt --tls-private-key-file tls.key \
///     --etcd-servers https://etcd:2379 --etcd-cafile etcd-ca.crt \
///     --etcd-certfile etcd-client.crt --etcd-keyfile etcd-client.key
/// authenticates and authorizes through kube-apiserver (in-cluster config or --kubeconfig).
#[derive(Debug, Parser)]
#[command(
    name = "prepull-apiserver",
    version,
    about,
    long_about,
    verbatim_doc_comment
)]
pub struct Options {
    /// Run without a Kubernetes cluster: generate a CA, serving and admin certificates and a
    /// kubeconfig in --data-dir (once), authenticate clients by certificate. Without it the
    /// server runs in cluster mode, behind kube-apiserver's aggregation layer.
    #[arg(long, env = "PREPULL_STANDALONE")]
    pub standalone: bool,

    /// Directory for generated certificates, the kubeconfig and the embedded store (cluster
    /// mode: only the embedded store, when no --etcd-servers are given; one replica only).
    #[arg(long, env = "PREPULL_DATA_DIR", default_value = "prepull-data")]
    pub data_dir: PathBuf,

    /// Port to serve HTTPS on.
    #[arg(long, env = "PREPULL_SECURE_PORT", default_value_t = 6443)]
    pub secure_port: u16,

    /// Address to listen on.
    #[arg(long, env = "PREPULL_BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind_address: IpAddr,

    /// Extra subject alternative names (DNS names or IPs) for the generated serving
    /// certificate; repeat or separate with commas.
    #[arg(long = "tls-san", env = "PREPULL_TLS_SANS", value_delimiter = ',')]
    pub tls_sans: Vec<String>,

    /// etcd endpoints (comma separated); `https://` ones use TLS (see --etcd-cafile,
    /// --etcd-certfile, --etcd-keyfile). Without it the embedded store in --data-dir is used.
    #[arg(long, env = "PREPULL_ETCD_SERVERS", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// Prefix of every key written to etcd.
    #[arg(long, env = "PREPULL_ETCD_PREFIX", default_value = "/registry")]
    pub etcd_prefix: String,

    /// CA bundle (PEM) that verifies etcd's serving certificate; needs https:// --etcd-servers
    /// (which use TLS, verified by the system roots when this is not given).
    #[arg(long = "etcd-cafile", env = "PREPULL_ETCD_CAFILE")]
    pub etcd_cafile: Option<PathBuf>,

    /// Client certificate (PEM) presented to etcd (etcd's --client-cert-auth); needs
    /// --etcd-keyfile and https:// --etcd-servers. Read once at start.
    #[arg(long = "etcd-certfile", env = "PREPULL_ETCD_CERTFILE")]
    pub etcd_certfile: Option<PathBuf>,

    /// Private key (PEM) of --etcd-certfile.
    #[arg(long = "etcd-keyfile", env = "PREPULL_ETCD_KEYFILE")]
    pub etcd_keyfile: Option<PathBuf>,

    /// Feature gates, `Name=true|false` separated by commas. Known: ImagePullJobGate (default
    /// true).
    #[arg(long, env = "PREPULL_FEATURE_GATES", default_value = "")]
    pub feature_gates: String,

    /// Do not run the job scheduler in this process (it serves the API only; ImagePullJobs
    /// then make no progress unless another process schedules them).
    #[arg(long, env = "PREPULL_DISABLE_SCHEDULER")]
    pub disable_scheduler: bool,

    /// Seconds between the pulls a `completionPolicy.type: Never` job repeats on each node.
    #[arg(long, env = "PREPULL_SCHEDULER_REPULL_PERIOD_SECONDS", default_value_t = 24 * 60 * 60)]
    pub scheduler_repull_period_seconds: u64,

    /// Seconds a node agent has to acknowledge a task before the scheduler fails it ("node has
    /// not responded for a long time").
    #[arg(long, env = "PREPULL_SCHEDULER_ACK_TIMEOUT_SECONDS", default_value_t = 10 * 60)]
    pub scheduler_ack_timeout_seconds: u64,

    /// Across all jobs, at most this many nodes pull from one registry host at a time (tasks
    /// beyond it wait, shown in the job's status message; jobs take turns). 0: unlimited.
    #[arg(long, env = "PREPULL_MAX_PULLS_PER_REGISTRY", default_value_t = 0)]
    pub max_pulls_per_registry: usize,

    /// Seconds of the scheduler's leader lease (with --etcd-servers, replicas elect one
    /// scheduler; when the leader dies another takes over within this time).
    #[arg(long, env = "PREPULL_LEADER_ELECT_LEASE_SECONDS", default_value_t = 15)]
    pub leader_elect_lease_seconds: u64,

    /// This replica's name in leader election (default: host name and process id).
    #[arg(long, env = "PREPULL_LEADER_ELECT_IDENTITY")]
    pub leader_elect_identity: Option<String>,

    /// HTTP/2 concurrent streams per connection. kube-apiserver multiplexes every proxied
    /// request, watches included, over very few connections: keep this far above 200.
    #[arg(long, env = "PREPULL_HTTP2_MAX_STREAMS", default_value_t = 1000)]
    pub http2_max_streams: u32,

    /// Most non-mutating requests served at once (kube-apiserver's flag); past it a request
    /// gets 429 with `Retry-After`. Watches and `system:masters` are not counted. 0: no limit.
    #[arg(long, env = "PREPULL_MAX_REQUESTS_INFLIGHT", default_value_t = 400)]
    pub max_requests_inflight: usize,

    /// Most mutating requests (create, update, patch, delete) served at once
    /// (kube-apiserver's flag); past it 429. 0: no limit.
    #[arg(
        long,
        env = "PREPULL_MAX_MUTATING_REQUESTS_INFLIGHT",
        default_value_t = 200
    )]
    pub max_mutating_requests_inflight: usize,

    /// Most client connections open at once; a connection past it is closed at once (and
    /// logged). Each watch through kube-apiserver shares its few connections.
    #[arg(long, env = "PREPULL_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// How long graceful shutdown waits for requests to finish before closing connections.
    #[arg(long, env = "PREPULL_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 10)]
    pub shutdown_timeout_seconds: u64,

    /// Deadline of every request except watches (kube-apiserver's --request-timeout); a request
    /// still running then is answered 504.
    #[arg(long, env = "PREPULL_REQUEST_TIMEOUT_SECONDS", default_value_t = 60)]
    pub request_timeout_seconds: u64,

    /// Watches without `timeoutSeconds` end after a random time between this and twice this
    /// (kube-apiserver's --min-request-timeout), so clients spread their re-watches.
    #[arg(
        long,
        env = "PREPULL_MIN_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 1800
    )]
    pub min_request_timeout_seconds: u64,

    /// How often a watch that allows bookmarks gets a BOOKMARK event.
    #[arg(
        long,
        env = "PREPULL_WATCH_BOOKMARK_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub watch_bookmark_interval_seconds: u64,

    /// Cluster mode: the serving certificate (PEM chain), re-read when it changes (see
    /// `prepull-apiserver certs`). Required in cluster mode.
    #[arg(long, env = "PREPULL_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// Cluster mode: the serving certificate's private key (PEM).
    #[arg(long, env = "PREPULL_TLS_PRIVATE_KEY_FILE")]
    pub tls_private_key_file: Option<PathBuf>,

    /// Cluster mode: how often the serving certificate files are checked for a new
    /// certificate (served to new connections without a restart).
    #[arg(
        long,
        env = "PREPULL_TLS_CERT_RELOAD_INTERVAL_SECONDS",
        default_value_t = 10
    )]
    pub tls_cert_reload_interval_seconds: u64,

    /// Cluster mode: kubeconfig of the main cluster (Nodes, Pods, Secrets, Events, Leases).
    /// Empty: the in-cluster service account.
    #[arg(long, env = "PREPULL_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Cluster mode: kubeconfig for TokenReviews and the
    /// kube-system/extension-apiserver-authentication ConfigMap. Default: --kubeconfig.
    #[arg(long, env = "PREPULL_AUTHENTICATION_KUBECONFIG")]
    pub authentication_kubeconfig: Option<PathBuf>,

    /// Cluster mode: kubeconfig for SubjectAccessReviews. Default: --kubeconfig.
    #[arg(long, env = "PREPULL_AUTHORIZATION_KUBECONFIG")]
    pub authorization_kubeconfig: Option<PathBuf>,

    /// Cluster mode: seconds a TokenReview answer is remembered.
    #[arg(
        long,
        env = "PREPULL_AUTHENTICATION_TOKEN_WEBHOOK_CACHE_TTL_SECONDS",
        default_value_t = 10
    )]
    pub authentication_token_webhook_cache_ttl_seconds: u64,

    /// Cluster mode: seconds an allowing SubjectAccessReview answer is remembered.
    #[arg(
        long,
        env = "PREPULL_AUTHORIZATION_WEBHOOK_CACHE_AUTHORIZED_TTL_SECONDS",
        default_value_t = 10
    )]
    pub authorization_webhook_cache_authorized_ttl_seconds: u64,

    /// Cluster mode: seconds a refusing SubjectAccessReview answer is remembered.
    #[arg(
        long,
        env = "PREPULL_AUTHORIZATION_WEBHOOK_CACHE_UNAUTHORIZED_TTL_SECONDS",
        default_value_t = 10
    )]
    pub authorization_webhook_cache_unauthorized_ttl_seconds: u64,

    /// Cluster mode: paths served to anyone without a SubjectAccessReview (a trailing `*`
    /// matches any suffix).
    #[arg(
        long,
        env = "PREPULL_AUTHORIZATION_ALWAYS_ALLOW_PATHS",
        value_delimiter = ',',
        default_value = "/healthz,/healthz/*,/livez,/livez/*,/readyz,/readyz/*"
    )]
    pub authorization_always_allow_paths: Vec<String>,

    /// Cluster mode: the node agents' service-account users. One of them presenting a
    /// node-bound token (extra `authentication.kubernetes.io/node-name`) acts for that node:
    /// it may create only that node's NodeImage and receives only that node's pull credentials.
    #[arg(
        long,
        env = "PREPULL_NODE_AGENT_SERVICE_ACCOUNTS",
        value_delimiter = ',',
        default_value = "system:serviceaccount:prepull-system:prepull-nodeagent"
    )]
    pub node_agent_service_accounts: Vec<String>,

    /// Log format.
    #[arg(long, env = "PREPULL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do instead of serving (none: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Commands run instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a kubeconfig for the node agent of NODE on stdout (standalone only): its client
    /// certificate names the node (`system:node:NODE` in `system:nodes`), which may only read,
    /// watch, register and write the status of NodeImage NODE. The server's address is the
    /// one in `<data-dir>/kubeconfig` (written by the server at each start), else the one
    /// --bind-address and --secure-port give.
    NodeKubeconfig {
        /// The node's name.
        node: String,
    },
    /// Revoke every certificate issued to the node agent of NODE (standalone only): the
    /// running server refuses them within a second (401). `node-kubeconfig NODE` afterwards
    /// issues a new one that works.
    RevokeNode {
        /// The node's name.
        node: String,
    },
    /// Make the cluster-mode TLS material in --out: a CA (`ca.crt`, `ca.key`), the serving
    /// certificate for `<service>.<namespace>.svc` (`tls.crt`, `tls.key`), the APIServices'
    /// `ca-bundle.base64`, and for etcd a CA of its own (`etcd-ca.crt`, `etcd-ca.key`), etcd's
    /// serving certificate (`etcd-server.crt`, `etcd-server.key`) and the API server's etcd
    /// client certificate (`etcd-client.crt`, `etcd-client.key`); `manifests/` picks them up
    /// from `manifests/certs`. Existing CAs in --out are reused (re-running renews only the
    /// certificates; the running server picks up its serving certificate without a restart).
    Certs(CertsOptions),
}

/// Options of the `certs` command.
#[derive(Debug, Clone, clap::Args)]
pub struct CertsOptions {
    /// The Service in front of the API server.
    #[arg(long, default_value = "prepull-apiserver")]
    pub service: String,
    /// Its namespace.
    #[arg(long, default_value = "prepull-system")]
    pub namespace: String,
    /// Output directory (created when missing).
    #[arg(long, default_value = "manifests/certs")]
    pub out: PathBuf,
    /// Extra subject alternative names (DNS names or IPs); repeat or separate with commas.
    #[arg(long = "san", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// The headless Service of etcd's StatefulSet (in --namespace): etcd's serving certificate
    /// names it, its pods (`*.<service>.<namespace>.svc`) and localhost.
    #[arg(long, default_value = "prepull-etcd")]
    pub etcd_service: String,
}
