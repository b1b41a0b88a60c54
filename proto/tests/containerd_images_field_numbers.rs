//! Pins the wire format of our containerd images API subset to upstream
//! `containerd.services.images.v1` (containerd api/services/images/v1/images.proto) and
//! `containerd.types.Descriptor`: every field we use is encoded and its tag read back, and the
//! gRPC service name is checked. A drifted number fails here instead of reaching containerd as a
//! different field (a wrong `update_mask` number would make an Update replace every field).

#[macro_use]
mod wire;

use std::collections::HashMap;

use prepull_cri::containerd::services::images::v1::*;
use prepull_cri::containerd::types::Descriptor;
use prost::Message;
use wire::LEN;

const VARINT: u8 = wire::VARINT;

#[test]
fn image_fields_have_upstream_numbers() {
    field!(Image { name: "reg/app:v1".into() } => 1, LEN);
    field!(Image { labels: HashMap::from([("k".into(), "v".into())]) } => 2, LEN);
    field!(Image { target: Some(Descriptor::default()) } => 3, LEN);
}

#[test]
fn descriptor_fields_have_upstream_numbers() {
    field!(Descriptor { media_type: "application/json".into() } => 1, LEN);
    field!(Descriptor { digest: "sha256:x".into() } => 2, LEN);
    field!(Descriptor { size: 1 } => 3, VARINT);
    field!(Descriptor { annotations: HashMap::from([("k".into(), "v".into())]) } => 5, LEN);
}

#[test]
fn request_and_response_fields_have_upstream_numbers() {
    field!(GetImageRequest { name: "x".into() } => 1, LEN);
    field!(GetImageResponse { image: Some(Image::default()) } => 1, LEN);
    field!(UpdateImageRequest { image: Some(Image::default()) } => 1, LEN);
    field!(UpdateImageRequest { update_mask: Some(FieldMask::default()) } => 2, LEN);
    field!(UpdateImageResponse { image: Some(Image::default()) } => 1, LEN);
    field!(ListImagesRequest { filters: vec!["name==x".into()] } => 1, LEN);
    field!(ListImagesResponse { images: vec![Image::default()] } => 1, LEN);
    field!(FieldMask { paths: vec!["labels.k".into()] } => 1, LEN);
}

#[test]
fn an_image_as_containerd_encodes_it_decodes_with_its_timestamps_skipped() {
    // name (1) "a", labels (2) {"k": "v"}, target (3) {digest (2) "d"}, created_at (7) empty.
    let bytes = [
        0x0a, 1, b'a', 0x12, 6, 0x0a, 1, b'k', 0x12, 1, b'v', 0x1a, 3, 0x12, 1, b'd', 0x3a, 0,
    ];
    let image = Image::decode(&bytes[..]).expect("a valid Image");
    assert_eq!(image.name, "a");
    assert_eq!(image.labels, HashMap::from([("k".into(), "v".into())]));
    assert_eq!(image.target.expect("a target").digest, "d");
}

#[test]
fn the_service_carries_its_upstream_grpc_name() {
    use tonic::server::NamedService;
    type Server = images_server::ImagesServer<NoImages>;
    assert_eq!(
        <Server as NamedService>::NAME,
        "containerd.services.images.v1.Images"
    );
}

/// Only here to name the generated server type.
struct NoImages;

#[tonic::async_trait]
impl images_server::Images for NoImages {
    async fn get(
        &self,
        _: tonic::Request<GetImageRequest>,
    ) -> Result<tonic::Response<GetImageResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn list(
        &self,
        _: tonic::Request<ListImagesRequest>,
    ) -> Result<tonic::Response<ListImagesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
    async fn update(
        &self,
        _: tonic::Request<UpdateImageRequest>,
    ) -> Result<tonic::Response<UpdateImageResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
}
