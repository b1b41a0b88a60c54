//! Pins the wire format of our CRI subset to upstream `runtime.v1`: every field we use is encoded
//! and its tag read back from the raw bytes, and a few hand-made byte strings are decoded. A
//! field number that drifts from upstream (kubernetes/cri-api pkg/apis/runtime/v1/api.proto)
//! fails here instead of silently reaching the runtime as a different field.

use std::collections::HashMap;

use prepull_cri::runtime::v1::*;
use prost::Message;

/// Protobuf wire types.
const VARINT: u8 = 0;
const LEN: u8 = 2;

/// The (field number, wire type) of every top-level field in `bytes`, in order.
fn tags(mut bytes: &[u8]) -> Vec<(u64, u8)> {
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes);
        let (number, wire_type) = (key >> 3, (key & 7) as u8);
        match wire_type {
            VARINT => {
                read_varint(&mut bytes);
            }
            LEN => {
                let len = usize::try_from(read_varint(&mut bytes)).expect("small length");
                bytes = &bytes[len..];
            }
            1 => bytes = &bytes[8..],
            5 => bytes = &bytes[4..],
            other => panic!("unexpected wire type {other}"),
        }
        found.push((number, wire_type));
    }
    found
}

fn read_varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().expect("truncated varint");
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint longer than 10 bytes")
}

/// Asserts that `message` encodes to exactly one field with this number and wire type.
#[track_caller]
fn assert_single_field(message: &(impl Message + std::fmt::Debug), number: u64, wire_type: u8) {
    assert_eq!(
        tags(&message.encode_to_vec()),
        vec![(number, wire_type)],
        "{message:?}"
    );
}

fn text() -> String {
    String::from("x")
}

fn one_entry() -> HashMap<String, String> {
    HashMap::from([(text(), text())])
}

fn spec() -> Option<ImageSpec> {
    Some(ImageSpec {
        image: text(),
        ..Default::default()
    })
}

#[test]
fn pull_image_request_fields_have_upstream_numbers() {
    let none = PullImageRequest::default();
    assert_single_field(
        &PullImageRequest {
            image: spec(),
            ..none.clone()
        },
        1,
        LEN,
    );
    let auth = Some(AuthConfig::default());
    assert_single_field(
        &PullImageRequest {
            auth,
            ..none.clone()
        },
        2,
        LEN,
    );
    let sandbox_config = Some(PodSandboxConfig::default());
    assert_single_field(
        &PullImageRequest {
            sandbox_config,
            ..none
        },
        3,
        LEN,
    );
    let response = PullImageResponse { image_ref: text() };
    assert_single_field(&response, 1, LEN);
}

#[test]
fn image_spec_fields_have_upstream_numbers() {
    let none = ImageSpec::default();
    assert_single_field(
        &ImageSpec {
            image: text(),
            ..none.clone()
        },
        1,
        LEN,
    );
    let annotations = one_entry();
    assert_single_field(
        &ImageSpec {
            annotations,
            ..none.clone()
        },
        2,
        LEN,
    );
    let user_specified_image = text();
    assert_single_field(
        &ImageSpec {
            user_specified_image,
            ..none.clone()
        },
        18,
        LEN,
    );
    assert_single_field(
        &ImageSpec {
            runtime_handler: text(),
            ..none
        },
        19,
        LEN,
    );
}

#[test]
fn auth_config_fields_have_upstream_numbers() {
    let none = AuthConfig::default();
    assert_single_field(
        &AuthConfig {
            username: text(),
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &AuthConfig {
            password: text(),
            ..none.clone()
        },
        2,
        LEN,
    );
    assert_single_field(
        &AuthConfig {
            auth: text(),
            ..none.clone()
        },
        3,
        LEN,
    );
    assert_single_field(
        &AuthConfig {
            server_address: text(),
            ..none.clone()
        },
        4,
        LEN,
    );
    assert_single_field(
        &AuthConfig {
            identity_token: text(),
            ..none.clone()
        },
        5,
        LEN,
    );
    assert_single_field(
        &AuthConfig {
            registry_token: text(),
            ..none
        },
        6,
        LEN,
    );
}

#[test]
fn pod_sandbox_config_fields_have_upstream_numbers() {
    let none = PodSandboxConfig::default();
    let metadata = Some(PodSandboxMetadata::default());
    assert_single_field(
        &PodSandboxConfig {
            metadata,
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &PodSandboxConfig {
            hostname: text(),
            ..none.clone()
        },
        2,
        LEN,
    );
    let log_directory = text();
    assert_single_field(
        &PodSandboxConfig {
            log_directory,
            ..none.clone()
        },
        3,
        LEN,
    );
    let labels = one_entry();
    assert_single_field(
        &PodSandboxConfig {
            labels,
            ..none.clone()
        },
        6,
        LEN,
    );
    let annotations = one_entry();
    assert_single_field(
        &PodSandboxConfig {
            annotations,
            ..none
        },
        7,
        LEN,
    );

    let none = PodSandboxMetadata::default();
    assert_single_field(
        &PodSandboxMetadata {
            name: text(),
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &PodSandboxMetadata {
            uid: text(),
            ..none.clone()
        },
        2,
        LEN,
    );
    assert_single_field(
        &PodSandboxMetadata {
            namespace: text(),
            ..none.clone()
        },
        3,
        LEN,
    );
    assert_single_field(&PodSandboxMetadata { attempt: 1, ..none }, 4, VARINT);
}

#[test]
fn image_fields_have_upstream_numbers() {
    let none = Image::default();
    assert_single_field(
        &Image {
            id: text(),
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &Image {
            repo_tags: vec![text()],
            ..none.clone()
        },
        2,
        LEN,
    );
    assert_single_field(
        &Image {
            repo_digests: vec![text()],
            ..none.clone()
        },
        3,
        LEN,
    );
    assert_single_field(
        &Image {
            size: 1,
            ..none.clone()
        },
        4,
        VARINT,
    );
    let uid = Some(Int64Value { value: 1 });
    assert_single_field(
        &Image {
            uid,
            ..none.clone()
        },
        5,
        LEN,
    );
    assert_single_field(
        &Image {
            username: text(),
            ..none.clone()
        },
        6,
        LEN,
    );
    assert_single_field(
        &Image {
            spec: spec(),
            ..none.clone()
        },
        7,
        LEN,
    );
    assert_single_field(
        &Image {
            pinned: true,
            ..none
        },
        8,
        VARINT,
    );
    assert_single_field(&Int64Value { value: 1 }, 1, VARINT);
}

#[test]
fn image_status_list_and_remove_fields_have_upstream_numbers() {
    let none = ImageStatusRequest::default();
    assert_single_field(
        &ImageStatusRequest {
            image: spec(),
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &ImageStatusRequest {
            verbose: true,
            ..none
        },
        2,
        VARINT,
    );
    let none = ImageStatusResponse::default();
    let image = Some(Image::default());
    assert_single_field(
        &ImageStatusResponse {
            image,
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &ImageStatusResponse {
            info: one_entry(),
            ..none
        },
        2,
        LEN,
    );

    let filter = Some(ImageFilter { image: spec() });
    assert_single_field(&ListImagesRequest { filter }, 1, LEN);
    assert_single_field(&ImageFilter { image: spec() }, 1, LEN);
    let images = vec![Image::default()];
    assert_single_field(&ListImagesResponse { images }, 1, LEN);

    assert_single_field(&RemoveImageRequest { image: spec() }, 1, LEN);
}

#[test]
fn image_fs_info_fields_have_upstream_numbers() {
    let none = FilesystemUsage::default();
    assert_single_field(
        &FilesystemUsage {
            timestamp: 1,
            ..none.clone()
        },
        1,
        VARINT,
    );
    let fs_id = Some(FilesystemIdentifier { mountpoint: text() });
    assert_single_field(
        &FilesystemUsage {
            fs_id,
            ..none.clone()
        },
        2,
        LEN,
    );
    let used_bytes = Some(UInt64Value { value: 1 });
    assert_single_field(
        &FilesystemUsage {
            used_bytes,
            ..none.clone()
        },
        3,
        LEN,
    );
    let inodes_used = Some(UInt64Value { value: 1 });
    assert_single_field(
        &FilesystemUsage {
            inodes_used,
            ..none
        },
        4,
        LEN,
    );
    assert_single_field(&FilesystemIdentifier { mountpoint: text() }, 1, LEN);
    assert_single_field(&UInt64Value { value: 1 }, 1, VARINT);

    let none = ImageFsInfoResponse::default();
    let image_filesystems = vec![FilesystemUsage::default()];
    assert_single_field(
        &ImageFsInfoResponse {
            image_filesystems,
            ..none.clone()
        },
        1,
        LEN,
    );
    let container_filesystems = vec![FilesystemUsage::default()];
    assert_single_field(
        &ImageFsInfoResponse {
            container_filesystems,
            ..none
        },
        2,
        LEN,
    );
}

#[test]
fn version_fields_have_upstream_numbers() {
    assert_single_field(&VersionRequest { version: text() }, 1, LEN);
    let none = VersionResponse::default();
    assert_single_field(
        &VersionResponse {
            version: text(),
            ..none.clone()
        },
        1,
        LEN,
    );
    assert_single_field(
        &VersionResponse {
            runtime_name: text(),
            ..none.clone()
        },
        2,
        LEN,
    );
    let runtime_version = text();
    assert_single_field(
        &VersionResponse {
            runtime_version,
            ..none.clone()
        },
        3,
        LEN,
    );
    let runtime_api_version = text();
    assert_single_field(
        &VersionResponse {
            runtime_api_version,
            ..none
        },
        4,
        LEN,
    );
}

#[test]
fn bytes_written_by_an_upstream_encoder_decode_into_the_right_fields() {
    // AuthConfig field 4 (server_address), length 3, "abc".
    let auth = AuthConfig::decode(&[0x22, 3, b'a', b'b', b'c'][..]).expect("valid AuthConfig");
    assert_eq!(auth.server_address, "abc");
    // ImageSpec field 18 (user_specified_image): key 18 << 3 | 2 = 146 = varint 0x92 0x01.
    let spec = ImageSpec::decode(&[0x92, 0x01, 1, b'u'][..]).expect("valid ImageSpec");
    assert_eq!(spec.user_specified_image, "u");
    // PullImageRequest field 3 (sandbox_config) holding PodSandboxConfig field 2 (hostname).
    let request =
        PullImageRequest::decode(&[0x1a, 3, 0x12, 1, b'h'][..]).expect("valid PullImageRequest");
    assert_eq!(
        request.sandbox_config.expect("sandbox config").hostname,
        "h"
    );
    // A field we left out (PodSandboxConfig.linux = 8) is skipped, not an error.
    let config = PodSandboxConfig::decode(&[0x42, 0, 0x12, 1, b'h'][..]).expect("skips field 8");
    assert_eq!(config.hostname, "h");
}

#[test]
fn services_carry_their_upstream_grpc_names() {
    use tonic::server::NamedService;
    type Images = image_service_server::ImageServiceServer<NoRuntime>;
    type Runtime = runtime_service_server::RuntimeServiceServer<NoRuntime>;
    assert_eq!(<Images as NamedService>::NAME, "runtime.v1.ImageService");
    assert_eq!(<Runtime as NamedService>::NAME, "runtime.v1.RuntimeService");
}

/// Only here to name the generated server types.
struct NoRuntime;

#[tonic::async_trait]
impl image_service_server::ImageService for NoRuntime {
    async fn list_images(
        &self,
        _: tonic::Request<ListImagesRequest>,
    ) -> Result<tonic::Response<ListImagesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn image_status(
        &self,
        _: tonic::Request<ImageStatusRequest>,
    ) -> Result<tonic::Response<ImageStatusResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn pull_image(
        &self,
        _: tonic::Request<PullImageRequest>,
    ) -> Result<tonic::Response<PullImageResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn remove_image(
        &self,
        _: tonic::Request<RemoveImageRequest>,
    ) -> Result<tonic::Response<RemoveImageResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn image_fs_info(
        &self,
        _: tonic::Request<ImageFsInfoRequest>,
    ) -> Result<tonic::Response<ImageFsInfoResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
}

#[tonic::async_trait]
impl runtime_service_server::RuntimeService for NoRuntime {
    async fn version(
        &self,
        _: tonic::Request<VersionRequest>,
    ) -> Result<tonic::Response<VersionResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
}
