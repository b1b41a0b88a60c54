//! The `prepull-apiserver` binary: parse options, validate them into a config (a bad
//! configuration exits with 64 before anything binds), run.

use std::process::ExitCode;

use clap::Parser;
use prepull_apiserver::{config, options, run};

/// mimalloc instead of the system allocator: a profile of the write path under load showed a
/// third of the server's CPU in glibc malloc/free, and glibc's per-thread arenas keep memory
/// after big list responses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let options = options::Options::parse();
    init_logging(&options.log_format);
    if let Some(options::Command::NodeKubeconfig { node }) = &options.command {
        return match prepull_apiserver::standalone::node_kubeconfig::render(&options, node) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("prepull-apiserver node-kubeconfig: {err:#}");
                ExitCode::from(64)
            }
        };
    }
    if let Some(options::Command::RevokeNode { node }) = &options.command {
        return match prepull_apiserver::standalone::node_kubeconfig::revoke(&options, node) {
            Ok(revoked) => {
                println!(
                    "node {node:?}: {} certificate(s) revoked ({} already); the server refuses them from now on",
                    revoked.newly, revoked.already
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("prepull-apiserver revoke-node: {err:#}");
                ExitCode::from(64)
            }
        };
    }
    if let Some(options::Command::Certs(certs)) = &options.command {
        return match prepull_apiserver::certs::write(certs) {
            Ok(written) => {
                println!(
                    "{} in {}: ca.crt{}, tls.crt/tls.key for {}, ca-bundle.base64 (the APIServices' caBundle)",
                    if written.new_ca { "Made" } else { "Renewed" },
                    written.dir.display(),
                    if written.new_ca {
                        " (new CA)"
                    } else {
                        " (CA kept)"
                    },
                    written.sans.join(", ")
                );
                println!(
                    "etcd: etcd-ca.crt{}, etcd-server.crt/etcd-server.key for {}, etcd-client.crt/etcd-client.key (the API server's)",
                    if written.etcd.new_ca {
                        " (new CA)"
                    } else {
                        " (CA kept)"
                    },
                    written.etcd.sans.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("prepull-apiserver certs: {err:#}");
                ExitCode::from(64)
            }
        };
    }
    let config = match config::Config::from_options(options) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("prepull-apiserver: invalid configuration: {err:#}");
            return ExitCode::from(64);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("prepull-apiserver failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &options::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PREPULL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        options::LogFormat::Json => builder.json().init(),
        options::LogFormat::Text => builder.init(),
    }
}
