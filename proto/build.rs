//! Compiles `runtime/v1/api.proto` (the CRI subset) and
//! `containerd/services/content/v1/content.proto` (containerd's ingestion status) into tonic
//! clients (and server traits, which tests use to pin service names) with the pure-Rust
//! `protox` parser, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 2] = [
        "runtime/v1/api.proto",
        "containerd/services/content/v1/content.proto",
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
