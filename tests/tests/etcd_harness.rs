//! The etcd harness starts a real etcd, survives restarts and cleans up after itself.

use std::time::Duration;

use prepull_testbed::{Etcd, assert_eventually};
use tokio::net::TcpStream;

async fn accepts_connections(etcd: &Etcd) -> bool {
    TcpStream::connect(("127.0.0.1", etcd.client_port()))
        .await
        .is_ok()
}

#[tokio::test]
async fn etcd_starts_on_a_loopback_port_and_answers() {
    let mut etcd = Etcd::start().await.expect("etcd starts");
    assert!(
        etcd.endpoint().starts_with("http://127.0.0.1:"),
        "{}",
        etcd.endpoint()
    );
    assert!(etcd.is_running());
    assert!(accepts_connections(&etcd).await, "logs:\n{}", etcd.logs());
    assert!(
        etcd.data_dir().join("member").is_dir(),
        "etcd wrote its data dir"
    );
}

#[tokio::test]
async fn etcd_stops_and_starts_again_on_the_same_endpoint_and_data_dir() {
    let mut etcd = Etcd::start().await.expect("etcd starts");
    let endpoint = etcd.endpoint();
    let data_dir = etcd.data_dir();

    etcd.stop().await.expect("etcd stops");
    assert!(!etcd.is_running());
    assert_eventually(
        "etcd to refuse connections",
        Duration::from_secs(5),
        || async {
            if accepts_connections(&etcd).await {
                Err("still accepting")
            } else {
                Ok(())
            }
        },
    )
    .await;
    assert!(
        data_dir.join("member").is_dir(),
        "the data dir survives a stop"
    );

    etcd.start_again().await.expect("etcd starts again");
    assert_eq!(etcd.endpoint(), endpoint);
    assert_eq!(etcd.data_dir(), data_dir);
    assert!(accepts_connections(&etcd).await, "logs:\n{}", etcd.logs());
}

#[tokio::test]
async fn dropping_etcd_removes_its_temp_dir() {
    let etcd = Etcd::start().await.expect("etcd starts");
    let data_dir = etcd.data_dir();
    drop(etcd);
    assert!(!data_dir.exists(), "{} is gone", data_dir.display());
}

#[tokio::test]
async fn two_etcds_run_side_by_side() {
    let first = Etcd::start().await.expect("first etcd starts");
    let second = Etcd::start().await.expect("second etcd starts");
    assert_ne!(first.endpoint(), second.endpoint());
}
