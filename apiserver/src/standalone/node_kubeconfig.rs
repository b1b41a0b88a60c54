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
    Ok(kubeconfig::render(
        &server_url(options),
        &pki.ca.cert_pem,
        &user,
        &client,
    ))
}

/// Where the node's agent reaches the server: the address in the server's own kubeconfig
/// (`<data-dir>/kubeconfig`, rewritten at each start, so a server started with another
/// `--secure-port` or `--bind-address` is found without repeating them), else the address
/// `--bind-address` and `--secure-port` describe.
fn server_url(options: &Options) -> String {
    let written = std::fs::read_to_string(options.data_dir.join("kubeconfig")).ok();
    written
        .as_deref()
        .and_then(server_in_kubeconfig)
        .unwrap_or_else(|| {
            format!(
                "https://{}",
                SocketAddr::new(client_host(options.bind_address), options.secure_port)
            )
        })
}

/// The `server:` of a kubeconfig [`kubeconfig::render`] wrote, when it is an `https://` URL.
fn server_in_kubeconfig(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("server: "))
        .map(str::trim)
        .find(|url| {
            url.strip_prefix("https://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        })
        .map(str::to_owned)
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
    fn the_address_comes_from_the_servers_own_kubeconfig() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_str().expect("utf-8 path");
        // The server ran on port 7443 and wrote its kubeconfig; node-kubeconfig is asked
        // without repeating the port.
        let served = Options::parse_from([
            "prepull-apiserver",
            "--standalone",
            "--data-dir",
            data_dir,
            "--secure-port",
            "7443",
        ]);
        crate::config::Config::from_options(served).expect("the server's config");
        let asked =
            Options::parse_from(["prepull-apiserver", "--standalone", "--data-dir", data_dir]);
        let text = render(&asked, "n1").expect("rendered");
        assert!(text.contains("server: https://127.0.0.1:7443\n"), "{text}");
        assert_eq!(server_in_kubeconfig("    server: http://x\n"), None);
        assert_eq!(
            server_in_kubeconfig("clusters:\n- cluster:\n    server: https://[::1]:9443\n"),
            Some("https://[::1]:9443".into())
        );
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
