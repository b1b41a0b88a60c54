//! `connect_unix` reports a missing socket clearly. Reaching a real runtime is covered against
//! containerd by the testbed's `cri_smoke` tests.

use prepull_cri::{ConnectError, connect_unix};

#[tokio::test]
async fn a_missing_socket_is_reported_as_unreachable_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("nothing-here.sock");
    let error = connect_unix(&socket).await.expect_err("nothing listens");
    assert!(
        matches!(&error, ConnectError::Unreachable { path, .. } if *path == socket),
        "{error:?}"
    );
    assert!(error.to_string().contains("nothing-here.sock"), "{error}");
}
