//! [`EtcdStore`]: the [`Storage`] contract over etcd's v3 API, one etcd request per call.
//!
//! Mapping: a create is a transaction "create_revision == 0 → put"; an update is
//! "mod_revision == expected → put, else get" (the get hands the winner to the
//! [`StorageError::Conflict`]); a delete is the same with a delete returning the previous value.
//! Revisions are etcd's `mod_revision`s. Values are sealed in the [`crate::envelope`] before
//! they are written and opened after they are read.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    AlarmAction, AlarmType, Client, CompactionOptions, Compare, CompareOp, ConnectOptions,
    DeleteOptions, GetOptions, KvClient, MaintenanceClient, ResponseHeader, Txn, TxnOp,
    TxnOpResponse, TxnResponse, WatchClient,
};

use super::config::EtcdConfig;
use super::error_translation::{Call, deadline_exceeded, malformed, never_sent, translate};
use super::fence::LeaderFence;
use super::keyspace::{Keyspace, signed, unsigned};
use crate::{
    KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream, envelope,
};

/// Largest gRPC message the client accepts: a list of thousands of objects easily passes
/// tonic's default 4 MiB. Same as kube-apiserver's client (`math.MaxInt32`).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// A [`Storage`] backed by etcd. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct EtcdStore {
    pub(super) kv: KvClient,
    pub(super) watch_client: WatchClient,
    /// Alarms (NOSPACE) for [`Storage::check_writable`].
    maintenance: MaintenanceClient,
    pub(super) keyspace: Keyspace,
    pub(super) request_timeout: Duration,
    /// How many times [`EtcdStore::sending`] tries a call that reached no member: a few per
    /// endpoint, so that with one member down the others are found; 1 with a single endpoint.
    attempts: usize,
    /// The leadership every write depends on ([`EtcdStore::fenced_by`]).
    fence: Option<LeaderFence>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("keyspace", &self.keyspace)
            .field("request_timeout", &self.request_timeout)
            .field("fence", &self.fence)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd and checks, within `request_timeout`, that it answers.
    ///
    /// [`StorageError::Unavailable`] when no endpoint answers in time, or (within about three
    /// dial timeouts more) when a TLS handshake fails or etcd refuses the client certificate,
    /// the reason then saying so;
    /// [`StorageError::Internal`] for a malformed configuration (no endpoints, a bad URL).
    /// After a successful connect the client reconnects by itself: a later outage fails the
    /// calls made during it, not the store.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore, StorageError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(config.dial_timeout)
            .with_timeout(config.request_timeout)
            // Pings only while a request or watch is open: etcd answers pings on an idle
            // connection (more often than every 2 hours) with GOAWAY "too_many_pings".
            .with_keep_alive(config.keepalive_interval, config.keepalive_timeout)
            .with_keep_alive_while_idle(false)
            // Watches on a member cut off from its cluster end instead of going silent.
            .with_require_leader(true);
        let options = match &config.tls {
            Some(tls) => tls.apply(options, config.dial_timeout),
            None => options,
        };
        let call = Call::on("");
        let connecting = Client::connect(&config.endpoints, Some(options));
        let client = match tokio::time::timeout(config.request_timeout, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => return Err(translate(err, &call)),
            Err(_) => return Err(deadline_exceeded(config.request_timeout)),
        };
        let store = EtcdStore {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch_client: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            maintenance: client.maintenance_client(),
            keyspace: Keyspace::new(&config.prefix),
            request_timeout: config.request_timeout,
            attempts: match config.endpoints.len() {
                0 | 1 => 1,
                endpoints => 4 * endpoints,
            },
            fence: None,
        };
        if let Err(error) = store.current_revision().await {
            return Err(explain_tls_failure(error, &config).await);
        }
        Ok(store)
    }

    /// A clone (same connection) whose every write also requires `fence`'s key to be bound to
    /// its lease, in the same transaction: once the leadership is gone, writes fail with
    /// [`StorageError::NotLeader`] and nothing is written. Reads are unchanged.
    pub fn fenced_by(&self, fence: LeaderFence) -> EtcdStore {
        EtcdStore {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// `compares` and, when fenced, the fence's.
    fn guarded(&self, mut compares: Vec<Compare>) -> Vec<Compare> {
        compares.extend(self.fence.as_ref().map(LeaderFence::compare));
        compares
    }

    /// A failed transaction's `else` branch `otherwise` and, when fenced, the fence's read
    /// (last, where [`EtcdStore::check_fence`] looks for it).
    fn otherwise(&self, mut otherwise: Vec<TxnOp>) -> Vec<TxnOp> {
        otherwise.extend(self.fence.as_ref().map(LeaderFence::read));
        otherwise
    }

    /// Of a failed write transaction: [`StorageError::NotLeader`] when the fence is why.
    fn check_fence(&self, response: &TxnResponse) -> Result<(), StorageError> {
        match &self.fence {
            Some(fence) => fence.check(response),
            None => Ok(()),
        }
    }

    /// Discards etcd's history before `revision` (physically, before returning): reads and
    /// watches at older revisions then fail with [`StorageError::Expired`]. Compacting a revision
    /// already compacted is [`StorageError::Expired`]; a future one
    /// [`StorageError::RevisionTooLarge`].
    ///
    /// Compaction is cluster-wide: it affects every root prefix sharing this etcd.
    pub async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        let call = Call::on("").at(Some(revision));
        let options = CompactionOptions::new().with_physical();
        let result = self
            .sending(&call, || {
                let mut kv = self.kv.clone();
                let options = options.clone();
                async move { kv.compact(signed(revision), Some(options)).await }
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(self.complete(err).await),
        }
    }

    /// Runs one etcd call with the request deadline, translating its failure.
    pub(super) async fn within<T>(
        &self,
        call: &Call<'_>,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => Err(translate(err, call)),
            Err(_) => Err(deadline_exceeded(self.request_timeout)),
        }
    }

    /// Fills in what etcd's errors do not say: the current revision of a
    /// [`StorageError::RevisionTooLarge`] and the oldest retained revision of a
    /// [`StorageError::Expired`] (one more request each, on these error paths only). Other
    /// errors pass through; when the extra request fails, the error keeps a 0 there.
    pub(super) async fn complete(&self, error: StorageError) -> StorageError {
        match error {
            StorageError::RevisionTooLarge {
                requested,
                current: 0,
            } => StorageError::RevisionTooLarge {
                requested,
                current: self.current_revision().await.unwrap_or(0),
            },
            StorageError::Expired {
                requested,
                oldest: 0,
            } => StorageError::Expired {
                requested,
                oldest: super::watch::compaction_revision(self).await.unwrap_or(0),
            },
            other => other,
        }
    }

    /// Runs the etcd call `send` makes, within one request deadline, sending it again while it
    /// fails without having reached a member (a member that is down refuses the connection; the
    /// balanced channel picks a member per call, so the next try usually goes to another).
    /// Any other failure is the answer: a call that may have been applied is never resent.
    pub(super) async fn sending<T, F>(
        &self,
        call: &Call<'_>,
        mut send: impl FnMut() -> F,
    ) -> Result<T, StorageError>
    where
        F: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.request_timeout;
        let mut attempt = 1;
        loop {
            match tokio::time::timeout_at(deadline, send()).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(err)) if attempt < self.attempts && never_sent(&err) => attempt += 1,
                Ok(Err(err)) => return Err(translate(err, call)),
                Err(_) => return Err(deadline_exceeded(self.request_timeout)),
            }
        }
    }

    async fn txn(&self, call: &Call<'_>, txn: Txn) -> Result<TxnResponse, StorageError> {
        self.sending(call, || {
            let mut kv = self.kv.clone();
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await
    }

    /// The winner of a lost compare-and-swap, read by the transaction's `else` branch.
    fn conflict(
        &self,
        key: &str,
        expected: Revision,
        response: &TxnResponse,
    ) -> Result<KeyValue, StorageError> {
        let current = first_get(response)?
            .take_kvs()
            .into_iter()
            .next()
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_string(),
            })?;
        // A winner that cannot be decoded still means "conflict"; the caller's re-read then
        // reports the corruption.
        let current = self.keyspace.read_etcd(current).ok().map(Box::new);
        Err(StorageError::Conflict {
            key: key.to_string(),
            expected,
            current,
        })
    }
}

#[async_trait]
impl Storage for EtcdStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        StorageError::check_value_size(key, &value)?;
        let etcd_key = self.keyspace.etcd_key(key);
        let txn = Txn::new()
            .when(self.guarded(vec![Compare::create_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                0,
            )]))
            .and_then([TxnOp::put(etcd_key, envelope::seal(&value), None)])
            .or_else(self.otherwise(Vec::new()));
        let response = self.txn(&Call::on(key).writing(value.len()), txn).await?;
        if !response.succeeded() {
            self.check_fence(&response)?;
            return Err(StorageError::AlreadyExists {
                key: key.to_string(),
            });
        }
        let revision = revision_of(response.header())?;
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn get(&self, key: &str) -> Result<KeyValue, StorageError> {
        let etcd_key = self.keyspace.etcd_key(key);
        let mut response = self
            .sending(&Call::on(key), || {
                let mut kv = self.kv.clone();
                let etcd_key = etcd_key.clone();
                async move { kv.get(etcd_key, None).await }
            })
            .await?;
        match response.take_kvs().into_iter().next() {
            Some(found) => self.keyspace.read_etcd(found),
            None => Err(StorageError::NotFound {
                key: key.to_string(),
            }),
        }
    }

    async fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StorageError> {
        match super::list::list(self, prefix, options).await {
            Ok(page) => Ok(page),
            Err(err) => Err(self.complete(err).await),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StorageError> {
        StorageError::check_value_size(key, &value)?;
        let etcd_key = self.keyspace.etcd_key(key);
        let txn = Txn::new()
            .when(self.guarded(unchanged_since(&etcd_key, expected)))
            .and_then([
                TxnOp::put(etcd_key.clone(), envelope::seal(&value), None),
                // The create revision for the answer, without sending the old value back.
                TxnOp::get(etcd_key.clone(), Some(GetOptions::new().with_keys_only())),
            ])
            .or_else(self.otherwise(vec![TxnOp::get(etcd_key, None)]));
        let response = self.txn(&Call::on(key).writing(value.len()), txn).await?;
        if !response.succeeded() {
            self.check_fence(&response)?;
            return self.conflict(key, expected, &response);
        }
        let mod_revision = revision_of(response.header())?;
        let create_revision = match response.op_responses().get(1) {
            Some(TxnOpResponse::Get(written)) => written
                .kvs()
                .first()
                .map(|kv| unsigned(kv.create_revision()))
                .ok_or_else(|| malformed("update read nothing back"))?,
            _ => return Err(malformed("update transaction without its read")),
        };
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision,
            mod_revision,
        })
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        let etcd_key = self.keyspace.etcd_key(key);
        let with_prev = || Some(DeleteOptions::new().with_prev_key());
        let call = Call::on(key);
        let (header, previous) = match expected {
            None if self.fence.is_none() => {
                let mut response = self
                    .sending(&call, || {
                        let mut kv = self.kv.clone();
                        let etcd_key = etcd_key.clone();
                        async move { kv.delete(etcd_key, with_prev()).await }
                    })
                    .await?;
                let header = response.take_header();
                (header, response.take_prev_kvs().into_iter().next())
            }
            _ => {
                let (compares, otherwise) = match expected {
                    Some(expected) => (
                        unchanged_since(&etcd_key, expected),
                        vec![TxnOp::get(etcd_key.clone(), None)],
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                let txn = Txn::new()
                    .when(self.guarded(compares))
                    .and_then([TxnOp::delete(etcd_key.clone(), with_prev())])
                    .or_else(self.otherwise(otherwise));
                let mut response = self.txn(&call, txn).await?;
                if !response.succeeded() {
                    self.check_fence(&response)?;
                    let Some(expected) = expected else {
                        return Err(malformed("an unconditional delete's transaction failed"));
                    };
                    return self.conflict(key, expected, &response);
                }
                let previous = match response.op_responses().into_iter().next() {
                    Some(TxnOpResponse::Delete(mut deleted)) => {
                        deleted.take_prev_kvs().into_iter().next()
                    }
                    _ => return Err(malformed("delete transaction without its delete")),
                };
                (response.take_header(), previous)
            }
        };
        let Some(previous) = previous else {
            return Err(StorageError::NotFound {
                key: key.to_string(),
            });
        };
        let revision = revision_of(header.as_ref())?;
        self.keyspace.read_deleted(previous, revision)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
        super::watch::watch(self, prefix, after).await
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        // A count-only read of one key: etcd answers with its header and nothing else.
        let probe = self.keyspace.etcd_key("");
        let response = self
            .sending(&Call::on(""), || {
                let mut kv = self.kv.clone();
                let probe = probe.clone();
                async move {
                    kv.get(probe, Some(GetOptions::new().with_count_only()))
                        .await
                }
            })
            .await?;
        revision_of(response.header())
    }

    /// etcd answers and has no NOSPACE alarm raised: with one, every write is refused
    /// ([`StorageError::QuotaExceeded`]) until an operator frees space and disarms it.
    async fn check_writable(&self) -> Result<(), StorageError> {
        let alarms = self
            .sending(&Call::on(""), || {
                let mut maintenance = self.maintenance.clone();
                async move {
                    maintenance
                        .alarm(AlarmAction::Get, AlarmType::None, None)
                        .await
                }
            })
            .await?;
        let members: Vec<u64> = alarms
            .alarms()
            .iter()
            .filter(|alarm| alarm.alarm() == AlarmType::Nospace)
            .map(|alarm| alarm.member_id())
            .collect();
        if members.is_empty() {
            return Ok(());
        }
        Err(StorageError::QuotaExceeded {
            reason: format!("the NOSPACE alarm is raised on member(s) {members:x?}"),
        })
    }
}

/// The comparison "`key` exists and was last written at `expected`". etcd evaluates each
/// comparison with a read of the key, so the existence check is only added where the revision
/// check alone would pass for a missing key (whose `mod_revision` is 0).
fn unchanged_since(etcd_key: &str, expected: Revision) -> Vec<Compare> {
    let mut compares = vec![Compare::mod_revision(
        etcd_key,
        CompareOp::Equal,
        signed(expected),
    )];
    if expected == 0 {
        compares.push(Compare::create_revision(etcd_key, CompareOp::Greater, 0));
    }
    compares
}

/// The store revision an answer was given at.
pub(super) fn revision_of(header: Option<&ResponseHeader>) -> Result<Revision, StorageError> {
    header
        .map(|header| unsigned(header.revision()))
        .ok_or_else(|| malformed("no response header"))
}

/// The read of a transaction's `else` branch.
fn first_get(response: &TxnResponse) -> Result<etcd_client::GetResponse, StorageError> {
    match response.op_responses().into_iter().next() {
        Some(TxnOpResponse::Get(read)) => Ok(read),
        _ => Err(malformed("failed transaction without its read")),
    }
}

/// `error`, or (when TLS is configured and etcd could not be reached) the reason the TLS
/// connection failed, e.g. etcd refusing the client certificate: under TLS 1.3 the failed call
/// itself only says "transport error".
async fn explain_tls_failure(error: StorageError, config: &EtcdConfig) -> StorageError {
    match (&error, &config.tls) {
        (StorageError::Unavailable { .. }, Some(tls)) => {
            match super::tls_diagnosis::explain(&config.endpoints, tls, config.dial_timeout).await {
                Some(reason) => StorageError::Unavailable { reason },
                None => error,
            }
        }
        _ => error,
    }
}
