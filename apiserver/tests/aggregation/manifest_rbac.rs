//! The RBAC of `manifests/apiserver/` is all our server needs: a second instance running as
//! the `prepull-apiserver` ServiceAccount reads the trust ConfigMap, lists CRDs, reviews
//! tokens and access.

use std::path::{Path, PathBuf};

use prepull_testbed::free_loopback_port;

use crate::support::{Env, NAMESPACE, fails, ok};

/// Applies the server's ServiceAccount and RBAC from `manifests/` and returns a kubeconfig
/// holding a token of that ServiceAccount.
pub async fn server_identity_kubeconfig(env: &Env) -> PathBuf {
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/apiserver");
    for file in ["serviceaccount.yaml", "rbac.yaml"] {
        let path = manifests.join(file).display().to_string();
        ok(&env.admin, &["apply", "-f", &path]).await;
    }
    let token = ok(
        &env.admin,
        &["create", "token", "prepull-apiserver", "-n", NAMESPACE],
    )
    .await;
    env.token_kubeconfig(
        "prepull-apiserver",
        &env.kube.url(),
        &env.kube.pki().cluster_ca_file,
        token.trim(),
    )
}

/// Started with only the manifests' rights, the server authenticates and authorizes callers.
pub async fn the_server_needs_no_more_than_the_manifests_rbac(env: &Env) {
    let kubeconfig = server_identity_kubeconfig(env).await;
    let port = free_loopback_port().unwrap();
    let mut args = env.server_args(port);
    let at = args.iter().position(|a| a == "--kubeconfig").unwrap();
    args[at + 1] = kubeconfig.display().to_string();
    args.push("--disable-scheduler".into());
    let server = env.start_instance(args).await;

    let alice = env.direct_as_user("alice", &[]);
    let server_flag = format!("--server=https://127.0.0.1:{}", server.port);
    ok(
        &alice,
        &[&server_flag, "get", "imagepulljobs", "-n", "team-a"],
    )
    .await;
    let refused = fails(
        &alice,
        &[&server_flag, "get", "imagepulljobs", "-n", "team-b"],
    )
    .await;
    assert!(refused.contains(r#"User "alice" cannot list"#), "{refused}");
    server.stop().await;
}
