//! Pins the wire format of our CRI subset to upstream `runtime.v1`: every field we use is encoded
//! and its tag read back from the raw bytes, and a few hand-made byte strings are decoded. A
//! field number that drifts from upstream (kubernetes/cri-api pkg/apis/runtime/v1/api.proto)
//! fails here instead of silently reaching the runtime as a different field.

use std::collections::HashMap;

#[macro_use]
mod wire;

use prepull_cri::runtime::v1::*;
use prost::Message;
use wire::{LEN, VARINT};

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
    field!(PullImageRequest { image: spec() } => 1, LEN);
    field!(PullImageRequest { auth: Some(AuthConfig::default()) } => 2, LEN);
    field!(PullImageRequest { sandbox_config: Some(PodSandboxConfig::default()) } => 3, LEN);
    field!(PullImageResponse { image_ref: text() } => 1, LEN);
}

#[test]
fn image_spec_fields_have_upstream_numbers() {
    field!(ImageSpec { image: text() } => 1, LEN);
    field!(ImageSpec { annotations: one_entry() } => 2, LEN);
    field!(ImageSpec { user_specified_image: text() } => 18, LEN);
    field!(ImageSpec { runtime_handler: text() } => 19, LEN);
}

#[test]
fn auth_config_fields_have_upstream_numbers() {
    field!(AuthConfig { username: text() } => 1, LEN);
    field!(AuthConfig { password: text() } => 2, LEN);
    field!(AuthConfig { auth: text() } => 3, LEN);
    field!(AuthConfig { server_address: text() } => 4, LEN);
    field!(AuthConfig { identity_token: text() } => 5, LEN);
    field!(AuthConfig { registry_token: text() } => 6, LEN);
}

#[test]
fn pod_sandbox_config_fields_have_upstream_numbers() {
    field!(PodSandboxConfig { metadata: Some(PodSandboxMetadata::default()) } => 1, LEN);
    field!(PodSandboxConfig { hostname: text() } => 2, LEN);
    field!(PodSandboxConfig { log_directory: text() } => 3, LEN);
    field!(PodSandboxConfig { labels: one_entry() } => 6, LEN);
    field!(PodSandboxConfig { annotations: one_entry() } => 7, LEN);
    field!(PodSandboxMetadata { name: text() } => 1, LEN);
    field!(PodSandboxMetadata { uid: text() } => 2, LEN);
    field!(PodSandboxMetadata { namespace: text() } => 3, LEN);
    field!(PodSandboxMetadata { attempt: 1 } => 4, VARINT);
}

#[test]
fn image_fields_have_upstream_numbers() {
    field!(Image { id: text() } => 1, LEN);
    field!(Image { repo_tags: vec![text()] } => 2, LEN);
    field!(Image { repo_digests: vec![text()] } => 3, LEN);
    field!(Image { size: 1 } => 4, VARINT);
    field!(Image { uid: Some(Int64Value { value: 1 }) } => 5, LEN);
    field!(Image { username: text() } => 6, LEN);
    field!(Image { spec: spec() } => 7, LEN);
    field!(Image { pinned: true } => 8, VARINT);
    field!(Int64Value { value: 1 } => 1, VARINT);
}

#[test]
fn image_status_list_and_remove_fields_have_upstream_numbers() {
    field!(ImageStatusRequest { image: spec() } => 1, LEN);
    field!(ImageStatusRequest { verbose: true } => 2, VARINT);
    field!(ImageStatusResponse { image: Some(Image::default()) } => 1, LEN);
    field!(ImageStatusResponse { info: one_entry() } => 2, LEN);
    field!(ListImagesRequest { filter: Some(ImageFilter { image: spec() }) } => 1, LEN);
    field!(ImageFilter { image: spec() } => 1, LEN);
    field!(ListImagesResponse { images: vec![Image::default()] } => 1, LEN);
    field!(RemoveImageRequest { image: spec() } => 1, LEN);
}

#[test]
fn image_fs_info_fields_have_upstream_numbers() {
    let usage = || vec![FilesystemUsage::default()];
    let value = || Some(UInt64Value { value: 1 });
    field!(FilesystemUsage { timestamp: 1 } => 1, VARINT);
    field!(FilesystemUsage { fs_id: Some(FilesystemIdentifier::default()) } => 2, LEN);
    field!(FilesystemUsage { used_bytes: value() } => 3, LEN);
    field!(FilesystemUsage { inodes_used: value() } => 4, LEN);
    field!(FilesystemIdentifier { mountpoint: text() } => 1, LEN);
    field!(UInt64Value { value: 1 } => 1, VARINT);
    field!(ImageFsInfoResponse { image_filesystems: usage() } => 1, LEN);
    field!(ImageFsInfoResponse { container_filesystems: usage() } => 2, LEN);
}

#[test]
fn version_fields_have_upstream_numbers() {
    field!(VersionRequest { version: text() } => 1, LEN);
    field!(VersionResponse { version: text() } => 1, LEN);
    field!(VersionResponse { runtime_name: text() } => 2, LEN);
    field!(VersionResponse { runtime_version: text() } => 3, LEN);
    field!(VersionResponse { runtime_api_version: text() } => 4, LEN);
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
