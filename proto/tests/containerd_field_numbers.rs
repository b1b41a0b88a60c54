//! Pins the wire format of our containerd content API subset to upstream
//! `containerd.services.content.v1` (containerd api/services/content/v1/content.proto): every
//! field we use is encoded and its tag read back, bytes as upstream encodes them are decoded, and
//! the gRPC service name is checked. A drifted number fails here instead of reaching containerd
//! as a different field.

#[macro_use]
mod wire;

use prepull_cri::containerd::services::content::v1::*;
use prost::Message;
use wire::LEN;

const VARINT: u8 = wire::VARINT;

#[test]
fn ingestion_status_fields_have_upstream_numbers() {
    field!(Status { r#ref: "layer-sha256:x".into() } => 3, LEN);
    field!(Status { offset: 1 } => 4, VARINT);
    field!(Status { total: 1 } => 5, VARINT);
    field!(Status { expected: "sha256:x".into() } => 6, LEN);
}

#[test]
fn list_statuses_fields_have_upstream_numbers() {
    field!(ListStatusesRequest { filters: vec!["ref~=\"^layer-\"".into()] } => 1, LEN);
    field!(ListStatusesResponse { statuses: vec![Status::default()] } => 1, LEN);
}

#[test]
fn a_status_as_containerd_encodes_it_decodes_with_its_timestamps_skipped() {
    // started_at (field 1, an empty Timestamp), ref (3) "r", offset (4) 7, total (5) 9,
    // expected (6) "d".
    let bytes = [0x0a, 0, 0x1a, 1, b'r', 0x20, 7, 0x28, 9, 0x32, 1, b'd'];
    let status = Status::decode(&bytes[..]).expect("a valid Status");
    assert_eq!(
        (
            status.r#ref.as_str(),
            status.offset,
            status.total,
            status.expected.as_str()
        ),
        ("r", 7, 9, "d")
    );
}

#[test]
fn the_service_carries_its_upstream_grpc_name() {
    use tonic::server::NamedService;
    type Server = content_server::ContentServer<NoStore>;
    assert_eq!(
        <Server as NamedService>::NAME,
        "containerd.services.content.v1.Content"
    );
}

/// Only here to name the generated server type.
struct NoStore;

#[tonic::async_trait]
impl content_server::Content for NoStore {
    async fn list_statuses(
        &self,
        _: tonic::Request<ListStatusesRequest>,
    ) -> Result<tonic::Response<ListStatusesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("test double"))
    }
}
