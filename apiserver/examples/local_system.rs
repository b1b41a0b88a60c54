//! The local system behind `run/up.sh`: a registry with the demo image (reachable at
//! `127.0.0.1:5000`, the address the manifests in `examples/` use), the API server in
//! standalone mode on the embedded store, and two nodes, each a containerd of its own with
//! a node agent. Runs until SIGTERM or Ctrl-C, then stops everything it started.
//!
//! `cargo run -p prepull-apiserver --example local_system -- DIR` (run/up.sh builds the
//! binaries first and runs it in the background). DIR keeps the server's data (kubeconfig,
//! certificates, store) and the logs; `DIR/ready` is written once everything is up.

use std::path::PathBuf;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

use prepull_testbed::system::{Binaries, DEMO_REPOSITORY, System};

/// The fixed address of the demo registry that `examples/` names.
const DEMO_REGISTRY: &str = "127.0.0.1:5000";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".prepull-local".into()),
    );
    let dir = std::path::absolute(&dir)?;
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_file(dir.join("ready"));
    // Bound before anything starts, so a taken port fails fast.
    let listener = TcpListener::bind(DEMO_REGISTRY)
        .await
        .with_context(|| format!("{DEMO_REGISTRY} is taken (another registry?); free it first"))?;
    let binaries = Binaries::beside_current_exe(false).await?;
    let mut system = System::start(&dir, binaries, &[], &[]).await?;
    system.push_image(DEMO_REPOSITORY, "v2").await?;
    tokio::spawn(forward(listener, system.registry.host_port()));
    for (name, zone) in [("node-1", "a"), ("node-2", "b")] {
        system.add_node(name, &[("zone", zone)]).await?;
        system
            .nodes
            .last()
            .expect("just added")
            .containerd
            .trust_insecure_registry(DEMO_REGISTRY)?;
    }
    let kubeconfig = system.server.kubeconfig();
    let summary = format!(
        "Prepull is up: API server https://127.0.0.1:{port} (standalone, embedded store), \
         registry {DEMO_REGISTRY} with {DEMO_REGISTRY}/{DEMO_REPOSITORY}:v1 and :v2, \
         nodes node-1 (zone=a) and node-2 (zone=b), each with its own containerd and agent.\n\
         Logs: {dir}/*.log\n\n\
         export KUBECONFIG={kubeconfig}\n\
         kubectl apply -f examples/image-pull-job.yaml\n\
         kubectl get imagepulljobs -w\n",
        port = system.server.port,
        dir = dir.display(),
        kubeconfig = kubeconfig.display(),
    );
    std::fs::write(dir.join("ready"), &summary)?;
    println!("{summary}");
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("stopping");
    drop(system);
    let _ = std::fs::remove_file(dir.join("ready"));
    Ok(())
}

/// Forwards every connection on `listener` to the registry at `target`.
async fn forward(listener: TcpListener, target: String) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let target = target.clone();
        tokio::spawn(async move {
            let connect = TcpStream::connect(&target);
            if let Ok(Ok(mut outbound)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), connect).await
            {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
