//! `connect_unix` reaches a gRPC server on a unix socket and reports a missing one clearly.

use std::time::Duration;

use prepull_cri::runtime::v1::runtime_service_client::RuntimeServiceClient;
use prepull_cri::runtime::v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use prepull_cri::runtime::v1::{VersionRequest, VersionResponse};
use prepull_cri::{ConnectError, connect, connect_unix};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

/// Answers Version with a fixed name, echoing the client's version.
struct FakeRuntime;

#[tonic::async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(
        &self,
        request: tonic::Request<VersionRequest>,
    ) -> Result<tonic::Response<VersionResponse>, tonic::Status> {
        Ok(tonic::Response::new(VersionResponse {
            version: request.into_inner().version,
            runtime_name: String::from("fake"),
            runtime_version: String::from("0.0.1"),
            runtime_api_version: String::from("v1"),
        }))
    }
}

#[tokio::test]
async fn a_runtime_on_a_unix_socket_answers_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&socket).expect("bind the socket");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RuntimeServiceServer::new(FakeRuntime))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );

    let channel = connect(&format!("unix://{}", socket.display()))
        .await
        .expect("connects");
    let mut request = tonic::Request::new(VersionRequest {
        version: String::from("v1"),
    });
    request.set_timeout(Duration::from_secs(5));
    let version = RuntimeServiceClient::new(channel)
        .version(request)
        .await
        .expect("Version answers")
        .into_inner();
    assert_eq!(version.runtime_name, "fake");
    assert_eq!(version.version, "v1");
    server.abort();
}

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
