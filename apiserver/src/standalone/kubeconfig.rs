//! Kubeconfig files for standalone mode: one for the admin, and (for node agents) one per
//! node, each embedding the CA and a client certificate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::pki::CertifiedKey;

/// Renders a kubeconfig that reaches `server` (an `https://` URL), trusts `ca_pem` and
/// authenticates as the holder of `client`.
pub fn render(server: &str, ca_pem: &str, user: &str, client: &CertifiedKey) -> String {
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: prepull
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: prepull
  context:
    cluster: prepull
    user: {user}
current-context: prepull
",
        ca = b64(ca_pem),
        user = yaml_string(user),
        cert = b64(&client.cert_pem),
        key = b64(&client.key_pem),
    )
}

/// A YAML double-quoted scalar (user names such as `system:node:n1` contain colons).
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_the_server_and_quotes_the_user() {
        let client = CertifiedKey {
            cert_pem: "C".into(),
            key_pem: "K".into(),
        };
        let text = render("https://127.0.0.1:6443", "CA", "system:node:n1", &client);
        assert!(text.contains("server: https://127.0.0.1:6443\n"));
        assert!(text.contains("- name: \"system:node:n1\"\n"));
        assert!(text.contains(&format!("client-key-data: {}\n", STANDARD.encode("K"))));
    }
}
