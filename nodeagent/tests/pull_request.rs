//! What the agent puts into CRI PullImage, seen by a fake runtime on a unix socket: the
//! sandbox config labels/annotations (plus `apps.kruise.io/pulling-image-by`), the matching
//! docker-config credentials with an empty `server_address`, and an activeDeadlineSeconds that
//! ends a pull the runtime never finishes.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prepull_api::node_image::ImagePullPhase;
use prepull_cri::runtime::v1::image_service_server::{ImageService, ImageServiceServer};
use prepull_cri::runtime::v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use prepull_cri::runtime::v1::*;
use serde_json::json;
use support::{Agent, Server, wait_for_phase};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::{Request, Response, Status};

const PULL_TIMEOUT: Duration = Duration::from_secs(30);
/// Images whose pull the fake never finishes.
const HANGING: &str = "reg.example:5000/team/hangs";

#[derive(Clone, Default)]
struct FakeRuntime {
    pulls: Arc<Mutex<Vec<PullImageRequest>>>,
}

#[tonic::async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(
        &self,
        _: Request<VersionRequest>,
    ) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse {
            version: "v1".into(),
            runtime_name: "fake".into(),
            runtime_version: "0".into(),
            runtime_api_version: "v1".into(),
        }))
    }
}

#[tonic::async_trait]
impl ImageService for FakeRuntime {
    async fn list_images(
        &self,
        _: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        Ok(Response::new(ListImagesResponse::default()))
    }

    async fn image_status(
        &self,
        _: Request<ImageStatusRequest>,
    ) -> Result<Response<ImageStatusResponse>, Status> {
        Ok(Response::new(ImageStatusResponse::default()))
    }

    async fn pull_image(
        &self,
        request: Request<PullImageRequest>,
    ) -> Result<Response<PullImageResponse>, Status> {
        let request = request.into_inner();
        let image = request.image.clone().unwrap_or_default().image;
        self.pulls.lock().unwrap().push(request);
        if image.starts_with(HANGING) {
            std::future::pending::<()>().await;
        }
        Ok(Response::new(PullImageResponse {
            image_ref: "sha256:fake".into(),
        }))
    }

    async fn remove_image(
        &self,
        _: Request<RemoveImageRequest>,
    ) -> Result<Response<RemoveImageResponse>, Status> {
        Ok(Response::new(RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _: Request<ImageFsInfoRequest>,
    ) -> Result<Response<ImageFsInfoResponse>, Status> {
        Ok(Response::new(ImageFsInfoResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_carry_the_sandbox_config_the_agent_annotation_and_credentials_without_server_address()
 {
    let server = Server::start().await;
    let socket = server.path("fake.sock");
    let fake = FakeRuntime::default();
    let listener = UnixListener::bind(&socket).expect("bind");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RuntimeServiceServer::new(fake.clone()))
            .add_service(ImageServiceServer::new(fake.clone()))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    let docker_config = server.path("config.json");
    std::fs::write(
        &docker_config,
        json!({"auths": {"https://reg.example:5000/team/app": {"username": "bob", "password": "pw"}}})
            .to_string(),
    )
    .expect("write config.json");
    server.create_node("n1").await;
    let kubeconfig = server.node_kubeconfig("n1");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        socket.to_str().unwrap(),
        "--docker-config",
        docker_config.to_str().unwrap(),
    ])
    .await;
    let admin = server.admin().await;
    let image = "reg.example:5000/team/app";
    let patch = json!({"spec": {"images": {
        image: {
            "sandboxConfig": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
            "tags": [{"tag": "v1", "pullPolicy": {"ttlSecondsAfterFinished": 300},
                      "createdAt": "2026-01-01T00:00:00Z"}],
        },
        HANGING: {
            "tags": [{"tag": "v1", "createdAt": "2026-01-01T00:00:00Z",
                      "pullPolicy": {"ttlSecondsAfterFinished": 300, "activeDeadlineSeconds": 2}}],
        },
    }}});
    server
        .kubectl
        .run(&[
            "patch",
            "nodeimage",
            "n1",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .await
        .expect("kubectl patch");
    let status = wait_for_phase(
        &admin,
        "n1",
        image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, "sha256:fake");

    let pull = fake
        .pulls
        .lock()
        .unwrap()
        .iter()
        .find(|p| {
            p.image
                .as_ref()
                .is_some_and(|i| i.image == "reg.example:5000/team/app:v1")
        })
        .cloned()
        .expect("the fake saw the pull");
    let sandbox = pull.sandbox_config.expect("sandbox config");
    assert_eq!(sandbox.labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        sandbox.annotations.get("note").map(String::as_str),
        Some("x")
    );
    assert_eq!(
        sandbox
            .annotations
            .get("apps.kruise.io/pulling-image-by")
            .map(String::as_str),
        Some("prepull-nodeagent")
    );
    let auth = pull.auth.expect("credentials sent");
    assert_eq!(
        (auth.username.as_str(), auth.password.as_str()),
        ("bob", "pw")
    );
    assert_eq!(auth.server_address, "");

    let ended = wait_for_phase(
        &admin,
        "n1",
        HANGING,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(
        ended.message.contains("activeDeadlineSeconds"),
        "{}",
        ended.message
    );
    let hanging_pull = fake
        .pulls
        .lock()
        .unwrap()
        .iter()
        .find(|p| {
            p.image
                .as_ref()
                .is_some_and(|i| i.image.starts_with(HANGING))
        })
        .cloned()
        .expect("the fake saw the hanging pull");
    // The credential's path (team/app) is not a prefix of team/hangs: anonymous.
    assert!(hanging_pull.auth.is_none(), "{hanging_pull:?}");
}
