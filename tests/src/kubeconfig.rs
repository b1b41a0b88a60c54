//! Kubeconfig files naming one cluster, one user (a client certificate) and one context.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::certs::PemFiles;

/// Writes a kubeconfig at `path` for `server` (`https://127.0.0.1:<port>`), trusting the CA
/// certificate in `ca_file` and authenticating with the client certificate in `client`.
/// The files are referenced by path, so they must outlive the kubeconfig's use.
pub fn write_kubeconfig(
    path: &Path,
    server: &str,
    ca_file: &Path,
    client: &PemFiles,
) -> anyhow::Result<()> {
    let cluster = json!({"server": server, "certificate-authority": ca_file});
    let user = json!({"client-certificate": client.cert, "client-key": client.key});
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prepull-test", "cluster": cluster}],
        "users": [{"name": "prepull-test", "user": user}],
        "contexts": [{"name": "prepull-test", "context": {"cluster": "prepull-test", "user": "prepull-test"}}],
        "current-context": "prepull-test",
    });
    // JSON is valid YAML, which is what kubeconfig readers expect.
    let text = serde_json::to_string_pretty(&config)?;
    std::fs::write(path, text).with_context(|| format!("writing kubeconfig {}", path.display()))
}
