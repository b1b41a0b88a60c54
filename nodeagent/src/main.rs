//! The `prepull-nodeagent` binary: parse options, build the config (a bad configuration exits
//! with 64), run until SIGTERM or Ctrl-C, on a single-threaded async runtime unless
//! `--worker-threads` asks for more.

use std::process::ExitCode;

use clap::Parser;
use prepull_nodeagent::{config::Config, options::Options, run_until};

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PREPULL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse();
    let mut builder = match options.worker_threads {
        0 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    let runtime = builder.enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let config = match Config::from_options(options).await {
            Ok(config) => config,
            Err(err) => {
                eprintln!("prepull-nodeagent: invalid configuration: {err}");
                return ExitCode::from(64);
            }
        };
        match run_until(config, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("prepull-nodeagent: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
