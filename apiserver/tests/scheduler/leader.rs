//! Leader election on a real etcd: one of two replicas leads, the other takes over at once
//! when the leader stops and within the lease TTL when its lease is gone, and a deposed
//! leader learns it lost before it could write as leader again; and a term's fence makes etcd
//! refuse a deposed leader's writes even before it learns.

use std::sync::Arc;
use std::time::Duration;

use prepull_api::{ApiVersion, Kind};
use prepull_apiserver::leader::Election;
use prepull_apiserver::leader::etcd::{EtcdElection, EtcdElectionConfig};
use prepull_apiserver::registry::{Body, DeleteParams, ReadRevision, Registry, RegistryOptions};
use prepull_storage::etcd::{EtcdConfig, EtcdStore};
use prepull_testbed::Etcd;
use serde_json::json;

use crate::support::writer;
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

#[tokio::test]
async fn a_deposed_leaders_fenced_writes_are_refused_before_it_learns_it_lost() {
    let etcd = Etcd::start().await.expect("etcd");
    let first = election(&etcd, "one").await;
    let stop = CancellationToken::new();
    let term = first.acquire_term(&stop).await.expect("the first leads");
    let fence = term.fence.clone().expect("an etcd term carries a fence");
    assert_eq!(fence.key, first.key());

    let store = EtcdStore::connect(EtcdConfig::new(vec![etcd.endpoint()]))
        .await
        .expect("store");
    let options = RegistryOptions {
        garbage_collection: false,
        ..RegistryOptions::default()
    };
    let plain = Registry::new(Arc::new(store.clone()), options);
    // What the scheduler of this term writes through.
    let fenced = plain.writing_to(Arc::new(store.fenced_by(fence.clone())));
    let node = |name: &str| {
        Body::Value(json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": name},
        }))
    };
    fn nodes(registry: &Registry) -> &prepull_apiserver::registry::ResourceStore {
        registry.store(Kind::NodeImage)
    }
    nodes(&fenced)
        .create(None, node("n1"), ApiVersion::V1alpha1, &writer())
        .await
        .expect("the leader writes");

    // As if the leader froze past its lease: etcd revokes it. The first replica's renewal has
    // not run yet (every TTL / 3), so it still believes it leads, and writes.
    let mut client = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap();
    client.lease_revoke(fence.lease).await.unwrap();
    assert!(!term.lost.is_cancelled(), "the renewal has not noticed yet");
    let refused = nodes(&fenced)
        .create(None, node("n2"), ApiVersion::V1alpha1, &writer())
        .await
        .expect_err("a deposed leader's create is refused");
    assert_eq!(refused.code.as_u16(), 503, "{refused:?}");
    assert!(refused.message.contains("no longer leads"), "{refused:?}");
    let refused = nodes(&fenced)
        .delete(None, "n1", &DeleteParams::default())
        .await
        .expect_err("a deposed leader's delete is refused");
    assert_eq!(refused.code.as_u16(), 503, "{refused:?}");

    // Nothing of it happened; writes outside the term are not fenced.
    nodes(&plain)
        .get(None, "n1", ReadRevision::Latest)
        .await
        .expect("n1 is still there");
    assert_eq!(
        nodes(&plain)
            .get(None, "n2", ReadRevision::Latest)
            .await
            .expect_err("n2 was not created")
            .code
            .as_u16(),
        404
    );
    nodes(&plain)
        .create(None, node("n2"), ApiVersion::V1alpha1, &writer())
        .await
        .expect("an unfenced write");
    tokio::time::timeout(TTL, term.lost.cancelled())
        .await
        .expect("the deposed leader learns within the TTL");
    stop.cancel();
}
