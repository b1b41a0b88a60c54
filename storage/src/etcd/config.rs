//! How to reach etcd: endpoints, TLS, the root prefix of every key, and the deadlines.

use std::time::Duration;

use super::tls::EtcdTls;

/// Where etcd is and how patient to be with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs (`http://127.0.0.1:2379`); requests are balanced over them.
    pub endpoints: Vec<String>,
    /// TLS settings; required for (and only allowed with) `https://` endpoints. Build it with
    /// [`EtcdTls::for_endpoints`], which checks that rule.
    pub tls: Option<EtcdTls>,
    /// Prepended to every key, like kube-apiserver's `--etcd-prefix`. A trailing `/` is ignored:
    /// `/registry` and `/registry/` both store `/g/p/n` as `/registry/g/p/n`.
    pub prefix: String,
    /// Deadline of every request (and of opening a watch). A call that has no answer by then
    /// fails with [`crate::StorageError::Unavailable`].
    pub request_timeout: Duration,
    /// Deadline of opening a TCP connection to one endpoint, and again of its TLS handshake.
    /// A refused or unreachable endpoint fails calls within this time instead of
    /// `request_timeout`.
    pub dial_timeout: Duration,
    /// Interval of HTTP/2 keepalive pings while a watch or request is open. A connection that
    /// stops answering them (a frozen or partitioned etcd) is dropped after
    /// `keepalive_interval + keepalive_timeout`, ending its watches with
    /// [`crate::StorageError::Unavailable`]. etcd refuses pings more often than every 5 s
    /// (its `--grpc-keepalive-min-time`).
    pub keepalive_interval: Duration,
    /// How long to wait for a keepalive ping's answer.
    pub keepalive_timeout: Duration,
}

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

impl EtcdConfig {
    /// The defaults for `endpoints`: root prefix `/registry`, 5 s requests, 1 s dials.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> EtcdConfig {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..EtcdConfig::default()
        }
    }

    /// The same configuration with another root prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> EtcdConfig {
        self.prefix = prefix.into();
        self
    }

    /// The same configuration with these TLS settings (`None`: plain connections).
    pub fn with_tls(mut self, tls: Option<EtcdTls>) -> EtcdConfig {
        self.tls = tls;
        self
    }
}

impl Default for EtcdConfig {
    fn default() -> EtcdConfig {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_string()],
            tls: None,
            prefix: DEFAULT_PREFIX.to_string(),
            request_timeout: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(3),
        }
    }
}
