//! `manifests/` against the real kube-apiserver: `kubectl apply --dry-run=server -k`, after
//! `prepull-apiserver certs` filled `certs/` (in a copy: the repository keeps no keys).

use std::path::Path;

use prepull_apiserver::certs;

use crate::support::{Env, certs_options, ok};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every object of the install validates server-side, the APIServices with a caBundle.
pub async fn the_manifests_pass_a_server_side_dry_run(env: &Env) {
    let copy = env.dir.path().join("manifests");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests"),
        &copy,
    );
    certs::write(&certs_options(&copy.join("certs"))).expect("certs for the manifests");
    let rendered = ok(&env.admin, &["kustomize", &copy.display().to_string()]).await;
    assert!(rendered.contains("caBundle: "), "{rendered}");
    assert!(
        !rendered.contains("caBundle: \"\""),
        "caBundle left empty:\n{rendered}"
    );
    // etcd: TLS with client certificates only, the API server presenting one.
    for line in [
        "--listen-client-urls=https://0.0.0.0:2379",
        "--client-cert-auth=true",
        "--trusted-ca-file=/etc/etcd/tls/ca.crt",
        "--etcd-servers=https://prepull-etcd.prepull-system.svc:2379",
        "--etcd-cafile=/etc/prepull/etcd/ca.crt",
        "--etcd-certfile=/etc/prepull/etcd/tls.crt",
        "--etcd-keyfile=/etc/prepull/etcd/tls.key",
    ] {
        assert!(rendered.contains(line), "{line} missing:\n{rendered}");
    }
    assert!(!rendered.contains("http://0.0.0.0:2379"), "{rendered}");
    let out = ok(
        &env.admin,
        &[
            "apply",
            "--dry-run=server",
            "-k",
            &copy.display().to_string(),
        ],
    )
    .await;
    for object in [
        "namespace/prepull-system",
        "deployment.apps/prepull-apiserver",
        "daemonset.apps/prepull-nodeagent",
        "apiservice.apiregistration.k8s.io/v1alpha1.apps.kruise.io",
        "apiservice.apiregistration.k8s.io/v1beta1.apps.kruise.io",
        "clusterrolebinding.rbac.authorization.k8s.io/prepull-apiserver:system:auth-delegator",
        "rolebinding.rbac.authorization.k8s.io/prepull-apiserver:extension-apiserver-authentication-reader",
        "secret/prepull-apiserver-tls",
        "secret/prepull-etcd-server-tls",
        "secret/prepull-etcd-client-tls",
        "statefulset.apps/prepull-etcd",
        "networkpolicy.networking.k8s.io/prepull-etcd",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(object) && l.ends_with("(server dry run)")),
            "{object} missing from:\n{out}"
        );
    }
}
