//! Leader election on a real etcd: one of two replicas leads, the other takes over at once
//! when the leader stops and within the lease TTL when its lease is gone, and a deposed
//! leader learns it lost before it could write as leader again.

use std::sync::Arc;
use std::time::Duration;

use prepull_apiserver::leader::Election;
use prepull_apiserver::leader::etcd::{EtcdElection, EtcdElectionConfig};
use prepull_testbed::Etcd;
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_secs(3);

async fn election(etcd: &Etcd, identity: &str) -> Arc<EtcdElection> {
    let config = EtcdElectionConfig::new(vec![etcd.endpoint()], "/registry", identity.into(), TTL);
    Arc::new(EtcdElection::connect(config).await.expect("connect"))
}

/// Campaigns for `election` in the background.
fn campaign(
    election: &Arc<EtcdElection>,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<Option<CancellationToken>> {
    let election = election.clone();
    let stop = stop.clone();
    tokio::spawn(async move { election.acquire(&stop).await })
}

#[tokio::test]
async fn of_two_replicas_one_leads_and_the_other_takes_over_at_once_when_it_stops() {
    let etcd = Etcd::start().await.expect("etcd");
    let (first, second) = (election(&etcd, "one").await, election(&etcd, "two").await);
    let (stop_first, stop_second) = (CancellationToken::new(), CancellationToken::new());
    let leading_first = first.acquire(&stop_first).await.expect("the first leads");
    let mut waiting = campaign(&second, &stop_second);
    assert!(
        tokio::time::timeout(TTL, &mut waiting).await.is_err(),
        "the second replica must not lead while the first renews"
    );
    assert!(!leading_first.is_cancelled(), "the leader keeps renewing");

    stop_first.cancel();
    tokio::time::timeout(Duration::from_secs(5), leading_first.cancelled())
        .await
        .expect("stopping ends the term");
    let leading_second = tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("the second takes over at once, not after a TTL")
        .unwrap()
        .expect("the second leads");
    assert!(!leading_second.is_cancelled());
    stop_second.cancel();
    assert!(second.acquire(&stop_second).await.is_none());
}

#[tokio::test]
async fn a_leader_whose_lease_is_gone_steps_down_and_another_leads_within_the_ttl() {
    let etcd = Etcd::start().await.expect("etcd");
    let (first, second) = (election(&etcd, "one").await, election(&etcd, "two").await);
    let (stop_first, stop_second) = (CancellationToken::new(), CancellationToken::new());
    let leading_first = first.acquire(&stop_first).await.expect("the first leads");
    let waiting = campaign(&second, &stop_second);

    // As if the leader's process froze past its lease: etcd revokes the lease (and the key).
    let mut client = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap();
    let held = client.get(first.key(), None).await.unwrap();
    let kv = held.kvs().first().expect("the leader's key");
    assert_eq!(kv.value(), b"one");
    client.lease_revoke(kv.lease()).await.unwrap();

    tokio::time::timeout(TTL, leading_first.cancelled())
        .await
        .expect("the deposed leader learns within the TTL");
    let leading_second = tokio::time::timeout(TTL, waiting)
        .await
        .expect("another replica leads within the TTL")
        .unwrap()
        .expect("the second leads");
    let held = client.get(second.key(), None).await.unwrap();
    assert_eq!(held.kvs()[0].value(), b"two");
    assert!(!leading_second.is_cancelled());
    stop_first.cancel();
    stop_second.cancel();
}
