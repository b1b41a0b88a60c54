//! `prepull-apiserver --standalone --data-dir DIR node-kubeconfig NODE`: a kubeconfig for the
//! node agent of NODE, with a client certificate naming the node (CN `system:node:NODE`, O
//! `system:nodes`) signed by the data dir's CA. The authorizer lets that identity read, watch,
//! register and write the status of NodeImage NODE only.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};

use super::{kubeconfig, node_certificates, pki};
use crate::auth::authorize::{NODE_USER_PREFIX, NODES_GROUP};
use crate::config::client_host;
use crate::options::Options;

/// `prepull-apiserver --standalone --data-dir DIR revoke-node NODE`: revokes every
/// certificate issued to NODE ([`node_certificates`]); the running server refuses them
/// within a second.
pub fn revoke(options: &Options, node: &str) -> Result<node_certificates::Revoked> {
    if !options.standalone {
        bail!("revoke-node needs --standalone (node identities come from the standalone CA)");
    }
    node_certificates::revoke_node(&options.data_dir.join("pki"), node)
}

/// The kubeconfig text for node `node`, reaching the server `options` describe.
pub fn render(options: &Options, node: &str) -> Result<String> {
    if !options.standalone {
        bail!("node-kubeconfig needs --standalone (node identities come from the standalone CA)");
    }
    if node.is_empty() || node.contains(['/', ':']) || node.chars().any(char::is_whitespace) {
        bail!("{node:?} is not a valid node name");
    }
    let pki_dir = options.data_dir.join("pki");
    let pki = pki::Pki::ensure(&pki_dir, &options.tls_sans)
        .context("loading the standalone certificates")?;
    let user = format!("{NODE_USER_PREFIX}{node}");
    let client = pki
        .issue_client(&user, &[NODES_GROUP])
        .context("issuing the node certificate")?;
    node_certificates::record_issued(&pki_dir, node, &client.cert_pem)
        .context("recording the node certificate")?;
    let url = format!(
        "https://{}",
        SocketAddr::new(client_host(options.bind_address), options.secure_port)
    );
    Ok(kubeconfig::render(&url, &pki.ca.cert_pem, &user, &client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_node_kubeconfig_names_the_node_user_and_the_server() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options::parse_from([
            "prepull-apiserver",
            "--standalone",
            "--data-dir",
            dir.path().to_str().expect("utf-8 path"),
            "--secure-port",
            "7443",
        ]);
        let text = render(&options, "n1").expect("rendered");
        assert!(text.contains("server: https://127.0.0.1:7443\n"), "{text}");
        assert!(text.contains("- name: \"system:node:n1\"\n"), "{text}");
    }

    #[test]
    fn a_name_with_a_slash_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options::parse_from([
            "prepull-apiserver",
            "--standalone",
            "--data-dir",
            dir.path().to_str().expect("utf-8 path"),
        ]);
        assert!(render(&options, "a/b").is_err());
    }
}
