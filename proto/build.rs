//! Compiles `runtime/v1/api.proto` into tonic clients (and server traits, for fake runtimes in
//! tests) with the pure-Rust `protox` parser, so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTO: &str = "runtime/v1/api.proto";
    println!("cargo:rerun-if-changed={PROTO}");
    let descriptors = protox::compile([PROTO], ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
