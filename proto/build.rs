//! Compiles `runtime/v1/api.proto` (the CRI subset) and
//! `containerd/services/content/v1/content.proto` (containerd's ingestion status) and
//! `containerd/services/images/v1/images.proto` (image records, for pinning) into tonic
//! clients (and server traits, which tests use to pin service names) with the pure-Rust
//! `protox` parser, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 4] = [
        "runtime/v1/api.proto",
        "containerd/services/content/v1/content.proto",
        "containerd/services/images/v1/images.proto",
        "containerd/types/descriptor.proto",
    ];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
