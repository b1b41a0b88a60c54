//! [`EtcdElection`]: replicas sharing one etcd elect a leader with one key and an etcd lease.
//!
//! Campaign: while the key is absent, grant a lease of `ttl` and, in one transaction, create
//! the key (value = identity) bound to that lease only if it does not exist
//! (`create_revision == 0`). The winner renews the lease with keepalives every `ttl / 3`;
//! losers watch the key and campaign again the moment it is deleted (the leader released
//! it, or its lease expired because the process died), and at least every `ttl` anyway. A leader that cannot renew for `2/3 ttl`, or finds the
//! key gone or held by someone else, gives up before the server-side lease can expire, so two
//! replicas never believe they lead at once. On stop the leader revokes its lease, which
//! deletes the key: a waiting replica takes over at once.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, LeaseKeepAliveStream, LeaseKeeper,
    PutOptions, Txn, TxnOp, WatchOptions,
};
use prepull_storage::etcd::{EtcdTls, LeaderFence};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Election, Term};

/// Appended to the etcd prefix for the key that names the scheduler's leader:
/// `/registry-leader/scheduler` for prefix `/registry`. Outside `<prefix>/`, which holds only
/// sealed objects that the storage (and its watch) read.
pub const LEADER_KEY: &str = "-leader/scheduler";

/// Deadline of opening a connection to one endpoint (and of its TLS handshake).
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Why an [`EtcdElection`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// No endpoint answered: check `--etcd-servers` and that etcd runs.
    #[error("connecting to etcd at {endpoints} for leader election: {source}")]
    Connect {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    /// The connection attempt did not finish within the request timeout.
    #[error("connecting to etcd at {endpoints} for leader election: no answer within {timeout:?}")]
    Timeout {
        endpoints: String,
        timeout: Duration,
    },
    /// The lease TTL is below what etcd honours: use at least 2 seconds.
    #[error("the leader lease must last at least 2 seconds, not {0:?}")]
    TtlTooShort(Duration),
}

/// How an [`EtcdElection`] campaigns.
#[derive(Clone, Debug)]
pub struct EtcdElectionConfig {
    pub endpoints: Vec<String>,
    /// The storage's etcd prefix; the key is `<prefix>` + [`LEADER_KEY`].
    pub prefix: String,
    /// This replica's name, stored as the key's value.
    pub identity: String,
    /// The lease's time to live: how long a dead leader keeps the key.
    pub ttl: Duration,
    /// Pause after a failed campaign round (etcd unreachable) before the next.
    pub retry: Duration,
    /// Deadline of every etcd call.
    pub request_timeout: Duration,
    /// TLS to etcd, the storage's (see [`EtcdTls::for_endpoints`]); `None`: plain.
    pub tls: Option<EtcdTls>,
}

impl EtcdElectionConfig {
    /// Defaults for the rest: poll every second (at most `ttl / 3`), 5 s requests.
    pub fn new(endpoints: Vec<String>, prefix: &str, identity: String, ttl: Duration) -> Self {
        EtcdElectionConfig {
            endpoints,
            prefix: prefix.trim_end_matches('/').to_owned(),
            identity,
            ttl,
            retry: Duration::from_secs(1).min(ttl / 3),
            request_timeout: Duration::from_secs(5),
            tls: None,
        }
    }

    /// The same configuration with these TLS settings.
    pub fn with_tls(mut self, tls: Option<EtcdTls>) -> Self {
        self.tls = tls;
        self
    }
}

/// An [`Election`] on etcd. See the module documentation for the protocol.
pub struct EtcdElection {
    client: Client,
    key: String,
    config: EtcdElectionConfig,
}

impl std::fmt::Debug for EtcdElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdElection")
            .field("key", &self.key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EtcdElection {
    /// Connects to etcd (within the request timeout). Campaigning starts with
    /// [`Election::acquire`].
    pub async fn connect(config: EtcdElectionConfig) -> Result<EtcdElection, ElectionError> {
        if config.ttl < Duration::from_secs(2) {
            return Err(ElectionError::TtlTooShort(config.ttl));
        }
        let endpoints = config.endpoints.join(",");
        let options = ConnectOptions::new()
            .with_connect_timeout(DIAL_TIMEOUT)
            .with_timeout(config.request_timeout);
        let options = match &config.tls {
            Some(tls) => tls.apply(options, DIAL_TIMEOUT),
            None => options,
        };
        let client = tokio::time::timeout(
            config.request_timeout,
            Client::connect(&config.endpoints, Some(options)),
        )
        .await
        .map_err(|_| ElectionError::Timeout {
            endpoints: endpoints.clone(),
            timeout: config.request_timeout,
        })?
        .map_err(|source| ElectionError::Connect { endpoints, source })?;
        Ok(EtcdElection {
            client,
            key: format!("{}{LEADER_KEY}", config.prefix),
            config,
        })
    }

    /// The etcd key the leader holds.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// One campaign round: the lease id when this replica now holds the key, else the
    /// revision at which another holder was seen.
    async fn try_acquire(&self) -> Result<Round, etcd_client::Error> {
        let mut client = self.client.clone();
        let held = client.get(self.key.as_str(), None).await?;
        if !held.kvs().is_empty() {
            let revision = held.header().map_or(0, |h| h.revision());
            return Ok(Round::Held { revision });
        }
        let ttl = i64::try_from(self.config.ttl.as_secs()).unwrap_or(i64::MAX);
        let lease = client.lease_grant(ttl, None).await?.id();
        let txn = Txn::new()
            .when([Compare::create_revision(
                self.key.as_str(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(
                self.key.as_str(),
                self.config.identity.as_str(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let answer = client.txn(txn).await?;
        if answer.succeeded() {
            Ok(Round::Won { lease })
        } else {
            let _ = client.lease_revoke(lease).await;
            let revision = answer.header().map_or(0, |h| h.revision());
            Ok(Round::Held { revision })
        }
    }

    /// Returns once the key is deleted after `revision` (or the watch fails: the caller
    /// campaigns again either way, within its own bound).
    async fn released_after(&self, revision: i64) {
        let mut client = self.client.clone();
        let options = WatchOptions::new().with_start_revision(revision + 1);
        let Ok(mut events) = client.watch(self.key.as_str(), Some(options)).await else {
            tokio::time::sleep(self.config.retry).await;
            return;
        };
        loop {
            match events.message().await {
                Ok(Some(answer)) if answer.canceled() => return,
                Ok(Some(answer)) => {
                    let deleted = answer
                        .events()
                        .iter()
                        .any(|event| event.event_type() == EventType::Delete);
                    if deleted {
                        return;
                    }
                }
                _ => {
                    tokio::time::sleep(self.config.retry).await;
                    return;
                }
            }
        }
    }
}

/// What one campaign round found.
enum Round {
    /// This replica holds the key with this lease.
    Won { lease: i64 },
    /// Another replica held the key at this revision.
    Held { revision: i64 },
}

#[async_trait::async_trait]
impl Election for EtcdElection {
    fn identity(&self) -> &str {
        &self.config.identity
    }

    async fn acquire(&self, stop: &CancellationToken) -> Option<CancellationToken> {
        self.acquire_term(stop).await.map(|term| term.lost)
    }

    /// A term fenced by the leader key and this term's lease.
    async fn acquire_term(&self, stop: &CancellationToken) -> Option<Term> {
        loop {
            if stop.is_cancelled() {
                return None;
            }
            let round = tokio::time::timeout(self.config.request_timeout, self.try_acquire());
            match round.await {
                Ok(Ok(Round::Won { lease })) => {
                    tracing::info!(identity = %self.config.identity, key = %self.key, lease, "leader election: this replica leads");
                    let leading = CancellationToken::new();
                    let renewal = Renewal {
                        client: self.client.clone(),
                        key: self.key.clone(),
                        identity: self.config.identity.clone(),
                        lease,
                        ttl: self.config.ttl,
                        request_timeout: self.config.request_timeout,
                    };
                    tokio::spawn(renewal.run(leading.clone(), stop.clone()));
                    return Some(Term {
                        lost: leading,
                        fence: Some(LeaderFence {
                            key: self.key.clone(),
                            lease,
                        }),
                    });
                }
                Ok(Ok(Round::Held { revision })) => {
                    // Campaign again as soon as the holder lets go; look again after a TTL
                    // regardless.
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = self.released_after(revision) => {}
                        () = tokio::time::sleep(self.config.ttl) => {}
                    }
                    continue;
                }
                Ok(Err(err)) => {
                    tracing::warn!(key = %self.key, error = %err, "leader election: campaign round failed");
                }
                Err(_) => {
                    tracing::warn!(key = %self.key, "leader election: campaign round timed out");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(self.config.retry) => {}
            }
        }
    }
}

/// The leader's background renewal of its lease.
struct Renewal {
    client: Client,
    key: String,
    identity: String,
    lease: i64,
    ttl: Duration,
    request_timeout: Duration,
}

impl Renewal {
    /// Renews every `ttl / 3` until stopped (then revokes the lease) or until leadership is
    /// lost; cancels `leading` in both cases, after the revoke.
    async fn run(mut self, leading: CancellationToken, stop: CancellationToken) {
        let interval = self.ttl / 3;
        let renew_deadline = self.ttl * 2 / 3;
        let mut last_renewed = Instant::now();
        let mut keepalive: Option<(LeaseKeeper, LeaseKeepAliveStream)> = None;
        // After a failed renewal the next comes sooner: a member that went down costs one
        // retry period, not a third of the lease.
        let retry = interval / 5;
        let mut wait = interval;
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    self.release().await;
                    tracing::info!(identity = %self.identity, "leader election: released leadership");
                    leading.cancel();
                    return;
                }
                () = tokio::time::sleep(wait) => {}
            }
            wait = retry;
            let left = renew_deadline.saturating_sub(last_renewed.elapsed());
            let attempt = tokio::time::timeout(
                self.request_timeout
                    .min(left.max(Duration::from_millis(100))),
                self.renew_once(&mut keepalive),
            )
            .await;
            match attempt {
                Ok(Ok(true)) => {
                    last_renewed = Instant::now();
                    wait = interval;
                }
                Ok(Ok(false)) => {
                    tracing::warn!(identity = %self.identity, key = %self.key, "leader election: lost leadership (lease expired or key taken)");
                    leading.cancel();
                    return;
                }
                Ok(Err(err)) => {
                    keepalive = None;
                    tracing::warn!(identity = %self.identity, error = %err, "leader election: renewal failed");
                }
                Err(_) => {
                    keepalive = None;
                    tracing::warn!(identity = %self.identity, "leader election: renewal timed out");
                }
            }
            if last_renewed.elapsed() >= renew_deadline {
                tracing::warn!(identity = %self.identity, "leader election: lost leadership (no renewal within the deadline)");
                leading.cancel();
                self.release().await;
                return;
            }
        }
    }

    /// One keepalive plus a check that the key is still this lease's. `Ok(false)`: not the
    /// leader any more.
    async fn renew_once(
        &mut self,
        keepalive: &mut Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    ) -> Result<bool, etcd_client::Error> {
        if keepalive.is_none() {
            *keepalive = Some(self.client.lease_keep_alive(self.lease).await?);
        }
        let (keeper, stream) = keepalive.as_mut().expect("just set");
        keeper.keep_alive().await?;
        let Some(answer) = stream.message().await? else {
            *keepalive = None;
            return Err(etcd_client::Error::LeaseKeepAliveError(
                "the keepalive stream ended".into(),
            ));
        };
        if answer.ttl() <= 0 {
            return Ok(false);
        }
        let held = self.client.get(self.key.as_str(), None).await?;
        Ok(held
            .kvs()
            .first()
            .is_some_and(|kv| kv.lease() == self.lease && kv.value() == self.identity.as_bytes()))
    }

    /// Revokes the lease (deleting the key) so a waiting replica can lead at once.
    async fn release(&mut self) {
        let revoke = self.client.lease_revoke(self.lease);
        match tokio::time::timeout(self.request_timeout, revoke).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "leader election: revoking the lease failed; it expires by itself")
            }
            Err(_) => {
                tracing::warn!(
                    "leader election: revoking the lease timed out; it expires by itself"
                )
            }
        }
    }
}
