//! containerd's CRI behaves as the node agent expects, against real registries: pulls by tag and
//! by digest, the errors of a missing tag, of a private registry and of a hanging one, image
//! status and removal. These pin the runtime facts in TESTBED.md.

use std::time::Duration;

use prepull_cri::runtime::v1::image_service_client::ImageServiceClient;
use prepull_cri::runtime::v1::{
    AuthConfig, Image, ImageFsInfoRequest, ImageSpec, ImageStatusRequest, ListImagesRequest,
    PullImageRequest, RemoveImageRequest, VersionRequest,
};
use prepull_testbed::{Containerd, HangingRegistry, Registry, RegistryOptions};
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Deadline of pulls that are expected to finish (the test image pulls in well under 1 s).
const PULL_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline of quick calls (status, list, remove).
const CALL_DEADLINE: Duration = Duration::from_secs(10);

fn spec(image: &str) -> Option<ImageSpec> {
    Some(ImageSpec {
        image: image.to_owned(),
        ..Default::default()
    })
}

fn with_deadline<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}

/// PullImage with `auth` and a per-call deadline; the image ref on success.
async fn pull(
    images: &mut ImageServiceClient<Channel>,
    image: &str,
    auth: Option<AuthConfig>,
    deadline: Duration,
) -> Result<String, Status> {
    let request = PullImageRequest {
        image: spec(image),
        auth,
        sandbox_config: None,
    };
    let response = images.pull_image(with_deadline(request, deadline)).await?;
    Ok(response.into_inner().image_ref)
}

/// ImageStatus: the image when present, `None` when not.
async fn status(images: &mut ImageServiceClient<Channel>, image: &str) -> Option<Image> {
    let request = ImageStatusRequest {
        image: spec(image),
        verbose: false,
    };
    images
        .image_status(with_deadline(request, CALL_DEADLINE))
        .await
        .expect("ImageStatus answers")
        .into_inner()
        .image
}

#[tokio::test]
async fn containerd_answers_version_over_cri() {
    let containerd = Containerd::start(&[]).await.expect("containerd starts");
    assert!(containerd.endpoint().starts_with("unix:///"));
    let version = containerd
        .runtime_client()
        .await
        .expect("connects")
        .version(with_deadline(
            VersionRequest {
                version: String::from("v1"),
            },
            CALL_DEADLINE,
        ))
        .await
        .expect("Version answers")
        .into_inner();
    assert_eq!(version.runtime_name, "containerd");
    assert_eq!(version.runtime_api_version, "v1");
    assert!(!version.runtime_version.is_empty(), "{version:?}");
}

#[tokio::test]
async fn a_pushed_image_pulls_by_tag_and_is_listed_with_its_tag_and_digest() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");

    assert_eq!(status(&mut images, &image.reference).await, None);
    let started = Instant::now();
    let image_ref = pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull succeeds");
    eprintln!(
        "cold pull of {} bytes took {:?}",
        image.size,
        started.elapsed()
    );
    assert_eq!(image_ref, image.config_digest, "image_ref is the image id");

    let present = status(&mut images, &image.reference)
        .await
        .expect("the image is present");
    assert_eq!(present.id, image.config_digest);
    assert_eq!(present.repo_tags, vec![image.reference.clone()]);
    assert_eq!(present.repo_digests, vec![image.digest_reference.clone()]);
    assert!(present.size > 0, "{present:?}");

    let listed = images
        .list_images(with_deadline(
            ListImagesRequest { filter: None },
            CALL_DEADLINE,
        ))
        .await
        .expect("ListImages answers")
        .into_inner()
        .images;
    assert!(
        listed.iter().any(|listed| listed.id == image.config_digest),
        "{listed:?}"
    );

    let filesystems = images
        .image_fs_info(with_deadline(ImageFsInfoRequest {}, CALL_DEADLINE))
        .await
        .expect("ImageFsInfo answers")
        .into_inner()
        .image_filesystems;
    assert!(!filesystems.is_empty(), "no image filesystem reported");
}

#[tokio::test]
async fn a_digest_reference_pulls_the_same_image() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/by-digest", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");

    let image_ref = pull(&mut images, &image.digest_reference, None, PULL_DEADLINE)
        .await
        .expect("the pull by digest succeeds");
    assert_eq!(image_ref, image.config_digest);
    let present = status(&mut images, &image.digest_reference)
        .await
        .expect("the image is present under its digest");
    assert_eq!(present.repo_digests, vec![image.digest_reference.clone()]);
}

#[tokio::test]
async fn a_missing_tag_fails_with_not_found() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    registry
        .push_test_image("smoke/app", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");

    let missing = format!("{}/smoke/app:no-such-tag", registry.host_port());
    let error = pull(&mut images, &missing, None, PULL_DEADLINE)
        .await
        .expect_err("a missing tag cannot be pulled");
    eprintln!("missing tag: {:?} {}", error.code(), error.message());
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
    assert!(error.message().contains("not found"), "{error:?}");
}

#[tokio::test]
async fn a_private_registry_needs_the_credentials_in_auth_config() {
    let registry = Registry::start(RegistryOptions::private("alice", "s3cret"))
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("private/app", "v1")
        .await
        .expect("push with credentials");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");

    let error = pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect_err("an anonymous pull is refused");
    eprintln!("anonymous: {:?} {}", error.code(), error.message());
    assert_eq!(error.code(), Code::Unknown, "{error:?}");
    assert!(error.message().contains("401 Unauthorized"), "{error:?}");

    let wrong = AuthConfig {
        username: String::from("alice"),
        password: String::from("wrong"),
        ..Default::default()
    };
    let error = pull(&mut images, &image.reference, Some(wrong), PULL_DEADLINE)
        .await
        .expect_err("a wrong password is refused");
    eprintln!("wrong password: {:?} {}", error.code(), error.message());
    assert!(error.message().contains("401 Unauthorized"), "{error:?}");

    // server_address stays empty: the credentials then apply to whatever host the pull contacts.
    let auth = AuthConfig {
        username: String::from("alice"),
        password: String::from("s3cret"),
        ..Default::default()
    };
    let started = Instant::now();
    let image_ref = pull(
        &mut images,
        &image.reference,
        Some(auth.clone()),
        PULL_DEADLINE,
    )
    .await
    .expect("the pull with credentials succeeds");
    eprintln!("pull with basic auth took {:?}", started.elapsed());
    assert_eq!(image_ref, image.config_digest);

    // A bare host:port in server_address is refused before any registry is contacted.
    let bare = AuthConfig {
        server_address: registry.host_port(),
        ..auth.clone()
    };
    let error = pull(&mut images, &image.reference, Some(bare), PULL_DEADLINE)
        .await
        .expect_err("server_address host:port is an error");
    eprintln!(
        "server_address host:port: {:?} {}",
        error.code(),
        error.message()
    );
    assert_eq!(error.code(), Code::Unknown, "{error:?}");

    // A full URL naming the registry is accepted.
    let url = AuthConfig {
        server_address: format!("http://{}", registry.host_port()),
        ..auth
    };
    pull(&mut images, &image.reference, Some(url), PULL_DEADLINE)
        .await
        .expect("server_address as a URL works");
}

#[tokio::test]
async fn pull_image_contacts_the_registry_even_when_the_image_is_present() {
    let mut registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/present", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");
    pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the first pull succeeds");

    registry.stop().await.expect("registry stops");
    assert!(!registry.is_running());
    let present = status(&mut images, &image.reference).await;
    assert_eq!(
        present.map(|image| image.id),
        Some(image.config_digest.clone())
    );
    let error = pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect_err("PullImage needs the registry although the image is present");
    eprintln!("registry down: {:?} {}", error.code(), error.message());
    assert_eq!(error.code(), Code::Unknown, "{error:?}");

    registry.start_again().await.expect("registry starts again");
    let image_ref = pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull succeeds once the registry is back");
    assert_eq!(image_ref, image.config_digest);
}

#[tokio::test]
async fn a_pull_from_a_hanging_registry_ends_at_the_grpc_deadline() {
    let hanging = HangingRegistry::start().await.expect("listens");
    let containerd = Containerd::start(&[hanging.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");

    let reference = format!("{}/stuck/app:v1", hanging.host_port());
    let started = Instant::now();
    let error = pull(&mut images, &reference, None, Duration::from_secs(2))
        .await
        .expect_err("nothing answers");
    let took = started.elapsed();
    eprintln!(
        "hanging: {:?} {} after {took:?}",
        error.code(),
        error.message()
    );
    assert!(
        matches!(error.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{error:?}"
    );
    assert!(took >= Duration::from_secs(2), "ended early: {took:?}");
    assert!(took < Duration::from_secs(3), "ended late: {took:?}");
    assert!(
        hanging.connections_accepted() >= 1,
        "containerd never dialled"
    );
}

#[tokio::test]
async fn remove_image_removes_a_pulled_image_and_is_idempotent() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/removable", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");
    pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull succeeds");

    for attempt in ["first", "second"] {
        images
            .remove_image(with_deadline(
                RemoveImageRequest {
                    image: spec(&image.reference),
                },
                CALL_DEADLINE,
            ))
            .await
            .unwrap_or_else(|error| panic!("{attempt} RemoveImage: {error:?}"));
        assert_eq!(
            status(&mut images, &image.reference).await,
            None,
            "{attempt}"
        );
    }
}

#[tokio::test]
async fn two_containerds_keep_separate_image_stores() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/node-local", "v1")
        .await
        .expect("push");
    let node_a = Containerd::start(&[registry.host_port()])
        .await
        .expect("first containerd starts");
    let node_b = Containerd::start(&[registry.host_port()])
        .await
        .expect("second containerd starts");
    assert_ne!(node_a.socket_path(), node_b.socket_path());

    let mut images_a = node_a.image_client().await.expect("connects to a");
    let mut images_b = node_b.image_client().await.expect("connects to b");
    pull(&mut images_a, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull on a succeeds");
    assert!(status(&mut images_a, &image.reference).await.is_some());
    assert_eq!(status(&mut images_b, &image.reference).await, None);
}

#[tokio::test]
async fn a_registry_trusted_after_start_serves_the_next_pull() {
    let containerd = Containerd::start(&[]).await.expect("containerd starts");
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/late", "v1")
        .await
        .expect("push");
    containerd
        .trust_insecure_registry(&registry.host_port())
        .expect("hosts.toml written");
    let mut images = containerd.image_client().await.expect("connects");
    let image_ref = pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull succeeds");
    assert_eq!(image_ref, image.config_digest);
}

#[tokio::test]
async fn a_client_reconnects_after_containerd_restarts_and_pulled_images_survive() {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry starts");
    let image = registry
        .push_test_image("smoke/durable", "v1")
        .await
        .expect("push");
    let mut containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd starts");
    let mut images = containerd.image_client().await.expect("connects");
    pull(&mut images, &image.reference, None, PULL_DEADLINE)
        .await
        .expect("the pull succeeds");

    containerd.stop().await.expect("containerd stops");
    assert!(!containerd.is_running());
    let request = ImageStatusRequest {
        image: spec(&image.reference),
        verbose: false,
    };
    let error = images
        .image_status(with_deadline(request, CALL_DEADLINE))
        .await
        .expect_err("nobody answers while containerd is down");
    eprintln!("containerd down: {:?} {}", error.code(), error.message());
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");

    containerd.start_again().await.expect("containerd restarts");
    // The same client, without reconnecting by hand.
    let present = status(&mut images, &image.reference).await;
    assert_eq!(present.map(|image| image.id), Some(image.config_digest));
}
