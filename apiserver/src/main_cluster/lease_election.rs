//! [`LeaseElection`]: leader election over a coordination.k8s.io/v1 Lease in the main cluster,
//! with client-go's leaderelection semantics.
//!
//! A candidate reads the Lease; it may take it when nobody holds it (no Lease, an empty
//! `holderIdentity`) or when the holder's record has not changed for `leaseDurationSeconds` as
//! measured on this replica's own clock (so clock skew between replicas does not matter). Every
//! write is a compare-and-swap on the Lease's resourceVersion (create, or PUT with the version
//! read), so two candidates never both win. Taking the Lease from someone else bumps
//! `leaseTransitions` and sets `acquireTime`. The leader renews `renewTime` every retry period;
//! when renewing has not succeeded for the renew deadline, or another identity holds the Lease,
//! leadership is lost. Stopping releases the Lease (empty holder, duration 1 s), so a standby
//! takes over at its next retry instead of waiting for expiry.
//!
//! `kube-lease-manager` was considered: it renews with patches that carry no resourceVersion
//! precondition and judges expiry by the holder's `renewTime` (skew-sensitive), so it does not
//! give these semantics; this file is the small part of client-go we need.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::leader::Election;

/// Deadline of one request to the main cluster.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The timing of an election (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long a holder's record stays valid without a renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// Pause between attempts (to acquire or renew).
    pub retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> LeaseTiming {
        LeaseTiming {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Leader election over the Lease `namespace`/`name`.
#[derive(Clone, Debug)]
pub struct LeaseElection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
    /// The last Lease record seen (its resourceVersion) and when it was first seen.
    observed: Mutex<Option<(String, Instant)>>,
    leading: AtomicBool,
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This replica holds the Lease now.
    Held,
    /// Someone else holds it (and their record is fresh).
    Taken,
    /// The attempt failed (request error, lost a compare-and-swap race).
    Failed,
}

impl LeaseElection {
    /// An election for Lease `name` in `namespace` as `identity`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> LeaseElection {
        LeaseElection {
            inner: Arc::new(Inner {
                api: Api::namespaced(client, namespace),
                name: name.to_owned(),
                identity: identity.to_owned(),
                timing,
                observed: Mutex::new(None),
                leading: AtomicBool::new(false),
            }),
        }
    }

    /// Whether this replica leads right now.
    pub fn is_leading(&self) -> bool {
        self.inner.leading.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Election for LeaseElection {
    fn identity(&self) -> &str {
        &self.inner.identity
    }

    async fn acquire(&self, stop: &CancellationToken) -> Option<CancellationToken> {
        loop {
            let attempt = tokio::select! {
                () = stop.cancelled() => return None,
                attempt = self.inner.try_acquire_or_renew() => attempt,
            };
            if attempt == Attempt::Held {
                break;
            }
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(jittered(self.inner.timing.retry_period)) => {}
            }
        }
        tracing::info!(identity = %self.inner.identity, lease = %self.inner.name, "leading");
        self.inner.leading.store(true, Ordering::SeqCst);
        let lost = CancellationToken::new();
        tokio::spawn(self.inner.clone().renew(stop.clone(), lost.clone()));
        Some(lost)
    }
}

impl Inner {
    /// Keeps the Lease until `stop` (then releases it) or until renewing fails; cancels `lost`
    /// either way.
    ///
    /// Leadership ends no later than `renew_deadline` after the start of the last successful
    /// renewal (the `renewTime` it wrote): the wait before an attempt and the attempt itself
    /// (its read and its write) are cut off at that deadline, however slow the main cluster
    /// is. With `renew_deadline` < `lease_duration`, this replica has stopped leading before
    /// another can see the Lease expire.
    async fn renew(self: Arc<Self>, stop: CancellationToken, lost: CancellationToken) {
        let mut renewed_at = Instant::now();
        loop {
            let deadline = renewed_at + self.timing.renew_deadline;
            tokio::select! {
                () = stop.cancelled() => {
                    self.release().await;
                    break;
                }
                () = tokio::time::sleep(self.timing.retry_period) => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(identity = %self.identity, "lease not renewed within the renew deadline");
                    break;
                }
            }
            let started = Instant::now();
            let attempt = tokio::select! {
                attempt = self.try_acquire_or_renew() => attempt,
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(identity = %self.identity, "lease not renewed within the renew deadline (the main cluster did not answer)");
                    break;
                }
            };
            match attempt {
                Attempt::Held => renewed_at = started,
                Attempt::Taken => {
                    tracing::warn!(identity = %self.identity, "another replica holds the lease");
                    break;
                }
                Attempt::Failed if Instant::now() >= deadline => {
                    tracing::warn!(identity = %self.identity, "lease not renewed within the renew deadline");
                    break;
                }
                Attempt::Failed => {}
            }
        }
        self.leading.store(false, Ordering::SeqCst);
        lost.cancel();
    }

    async fn try_acquire_or_renew(&self) -> Attempt {
        let now = MicroTime(Timestamp::now());
        let current = match deadline(self.api.get_opt(&self.name)).await {
            Ok(current) => current,
            Err(err) => {
                tracing::warn!(lease = %self.name, %err, "reading the lease failed");
                return Attempt::Failed;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds(self.timing.lease_duration)),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match deadline(self.api.create(&PostParams::default(), &lease)).await {
                Ok(_) => Attempt::Held,
                Err(err) => {
                    tracing::debug!(lease = %self.name, %err, "creating the lease failed");
                    Attempt::Failed
                }
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        if !holder.is_empty() && !ours && !self.expired(&lease) {
            return Attempt::Taken;
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(seconds(self.timing.lease_duration)),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        });
        // The resourceVersion read above makes this PUT a compare-and-swap.
        match deadline(self.api.replace(&self.name, &PostParams::default(), &lease)).await {
            Ok(_) => Attempt::Held,
            Err(err) => {
                tracing::debug!(lease = %self.name, %err, "updating the lease failed");
                Attempt::Failed
            }
        }
    }

    /// Whether the holder's record in `lease` has stayed unchanged for its duration, timed
    /// from when this replica first saw that record.
    fn expired(&self, lease: &Lease) -> bool {
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let duration = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_duration_seconds)
            .map_or(self.timing.lease_duration, |s| {
                Duration::from_secs(s.max(0).unsigned_abs().into())
            });
        let mut observed = self.observed.lock();
        let since = match &*observed {
            Some((seen, since)) if *seen == version => *since,
            _ => {
                let now = Instant::now();
                *observed = Some((version, now));
                now
            }
        };
        since.elapsed() >= duration
    }

    /// Gives the Lease up, if this replica still holds it.
    async fn release(&self) {
        let Ok(Some(mut lease)) = deadline(self.api.get_opt(&self.name)).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = Some(String::new());
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        match deadline(self.api.replace(&self.name, &PostParams::default(), &lease)).await {
            Ok(_) => tracing::info!(identity = %self.identity, "released the lease"),
            Err(err) => {
                tracing::warn!(identity = %self.identity, %err, "releasing the lease failed")
            }
        }
    }
}

/// `call`, failing after [`REQUEST_TIMEOUT`].
async fn deadline<T>(call: impl Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(result) => result.map_err(|err| err.to_string()),
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX).max(1)
}

/// `period` plus up to 20 % (client-go's JitterFactor 1.2), so candidates do not move in step.
fn jittered(period: Duration) -> Duration {
    period + period.mul_f64(fastrand::f64() * 0.2)
}
