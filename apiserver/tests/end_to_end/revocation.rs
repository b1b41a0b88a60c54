//! A node's certificate can be revoked while the server runs: `prepull-apiserver revoke-node`
//! makes the running server refuse it (401) within seconds, and a certificate issued to the
//! node afterwards works.

use std::time::Duration;

use anyhow::{bail, ensure};
use prepull_testbed::{Kubectl, eventually};

use prepull_testbed::system::System;

/// Whether `kubectl` (a node's kubeconfig) may read discovery: `Ok` when authenticated,
/// the error text otherwise.
async fn discovery(kubectl: &Kubectl) -> anyhow::Result<String> {
    kubectl
        .run(&["get", "--raw", "/apis", "--request-timeout=5s"])
        .await
}

pub async fn a_revoked_node_certificate_is_refused_and_a_new_one_works(
    system: &System,
) -> anyhow::Result<()> {
    let server = &system.server;
    let first = server.node_kubeconfig("node-revoked").await?;
    let kept = first.with_extension("first");
    std::fs::copy(&first, &kept)?;
    let old = Kubectl::new(kept.clone());
    discovery(&old).await?;

    let said = server.revoke_node("node-revoked").await?;
    ensure!(
        said.contains("1 certificate(s) revoked"),
        "revoke-node said {said:?}"
    );
    eventually(
        "the revoked certificate is refused",
        Duration::from_secs(10),
        || {
            let old = old.clone();
            async move {
                match discovery(&old).await {
                    Ok(_) => bail!("still accepted"),
                    Err(err) if format!("{err:#}").contains("Unauthorized") => Ok(()),
                    Err(err) => bail!("refused, but not as unauthorized: {err:#}"),
                }
            }
        },
    )
    .await?;

    let renewed = Kubectl::new(server.node_kubeconfig("node-revoked").await?);
    discovery(&renewed).await?;
    ensure!(
        discovery(&old).await.is_err(),
        "the old certificate stays revoked"
    );
    // The running agents' nodes are untouched.
    let agent = Kubectl::new(server.data_dir.join("node-a.kubeconfig"));
    discovery(&agent).await?;
    Ok(())
}
