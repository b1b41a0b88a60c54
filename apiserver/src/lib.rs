//! Prepull's API server: serves apps.kruise.io ImagePullJob, ImageListPullJob and NodeImage
//! natively, as an aggregated API server (cluster mode) or on its own (standalone mode).
//!
//! Start reading at [`run`]: startup is [`options::Options`] -> [`config::Config`] -> run.
//! Requests enter through [`serve`] (TLS, HTTP/1.1 and HTTP/2) into the router built by
//! [`http::router`]; every failure becomes a Kubernetes `Status` in [`http::status`].

pub mod auth;
pub mod config;
pub mod http;
pub mod options;
pub mod registry; // REGISTRY helper: generic resource store (apiserver/src/registry).
pub mod serve;
pub mod standalone;

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: config::Config) -> anyhow::Result<()> {
    println!("Prepull API server: {}", config.standalone.url);
    println!(
        "  export KUBECONFIG={}",
        config.standalone.kubeconfig.display()
    );
    serve::serve(config.serving, http::router(), serve::shutdown_signal()).await
}
