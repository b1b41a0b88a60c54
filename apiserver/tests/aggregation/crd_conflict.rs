//! Where a CRD already serves `apps.kruise.io` v1alpha1 (OpenKruise's CloneSet, say), our
//! server refuses to start and says why.

use std::time::Duration;

use clap::Parser;
use prepull_apiserver::config::Config;
use prepull_apiserver::options::Options;
use prepull_testbed::free_loopback_port;

use crate::manifest_rbac::server_identity_kubeconfig;
use crate::support::{Env, apply, ok};

const CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "clonesets.apps.kruise.io"},
  "spec": {"group": "apps.kruise.io", "scope": "Namespaced",
           "names": {"plural": "clonesets", "singular": "cloneset", "kind": "CloneSet"},
           "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                         "schema": {"openAPIV3Schema": {"type": "object",
                                    "x-kubernetes-preserve-unknown-fields": true}}}]}
}"#;

/// A second instance, running with the manifests' RBAC, started with the CRD present fails
/// with a message naming it.
pub async fn the_server_refuses_to_start_next_to_crds_of_our_group(env: &Env) {
    apply(env, CRD).await;
    let port = free_loopback_port().unwrap();
    let mut args = env.server_args(port);
    let at = args.iter().position(|a| a == "--kubeconfig").unwrap();
    args[at + 1] = server_identity_kubeconfig(env).await.display().to_string();
    let config = Config::from_options(Options::parse_from(args)).unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        prepull_apiserver::run_until(config, std::future::pending()),
    )
    .await
    .expect("startup decides within a minute");
    let err = format!("{:#}", outcome.expect_err("startup is refused"));
    assert!(
        err.contains("CustomResourceDefinitions already serve apps.kruise.io v1alpha1"),
        "{err}"
    );
    assert!(err.contains("clonesets.apps.kruise.io"), "{err}");
    ok(&env.admin, &["delete", "crd", "clonesets.apps.kruise.io"]).await;
}
