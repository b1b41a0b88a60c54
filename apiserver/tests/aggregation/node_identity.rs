//! Node identities in cluster mode: the agent's service-account token bound to a pod names the
//! pod's node (extra `authentication.kubernetes.io/node-name`), and the agent may then create
//! only that node's NodeImage and read only that one, whether it calls through kube-apiserver (the node name arrives
//! as an `X-Remote-Extra-` header) or straight to our server (TokenReview returns it).

use std::path::Path;

use crate::support::{Env, NAMESPACE, apply, fails, ok};

fn node_image(name: &str) -> String {
    format!(
        r#"{{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "NodeImage", "metadata": {{"name": "{name}"}}}}"#
    )
}

/// The agent of node-1 registers node-1's NodeImage and is refused node-2's.
pub async fn a_node_bound_agent_token_may_register_only_its_own_node_image(env: &Env) {
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/nodeagent");
    for file in ["serviceaccount.yaml", "rbac.yaml"] {
        let path = manifests.join(file).display().to_string();
        ok(&env.admin, &["apply", "-f", &path]).await;
    }
    apply(
        env,
        r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}"#,
    )
    .await;
    apply(
        env,
        &format!(
            r#"{{"apiVersion": "v1", "kind": "Pod",
                "metadata": {{"name": "agent-node-1", "namespace": "{NAMESPACE}"}},
                "spec": {{"nodeName": "node-1", "serviceAccountName": "prepull-nodeagent",
                         "containers": [{{"name": "agent", "image": "prepull-nodeagent"}}]}}}}"#
        ),
    )
    .await;
    let uid = ok(
        &env.admin,
        &[
            "get",
            "pod",
            "agent-node-1",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    )
    .await;
    let token = ok(
        &env.admin,
        &[
            "create",
            "token",
            "prepull-nodeagent",
            "-n",
            NAMESPACE,
            "--bound-object-kind=Pod",
            "--bound-object-name=agent-node-1",
            &format!("--bound-object-uid={}", uid.trim()),
        ],
    )
    .await;
    let token = token.trim();
    let direct = env.direct_with_token("agent-node-1", token);
    let through = prepull_testbed::Kubectl::new(env.token_kubeconfig(
        "agent-through",
        &env.kube.url(),
        &env.kube.pki().cluster_ca_file,
        token,
    ));

    for kubectl in [&through, &direct] {
        let refused = kubectl
            .run_with_stdin(&["create", "-f", "-"], Some(&node_image("node-2")))
            .await
            .expect_err("node-1's agent may not create node-2's NodeImage");
        let refused = format!("{refused:#}");
        assert!(
            refused.contains(r#"node "node-1" may only create its own NodeImage"#),
            "{refused}"
        );
    }
    direct
        .run_with_stdin(&["create", "-f", "-"], Some(&node_image("node-1")))
        .await
        .expect("node-1's agent registers its NodeImage");
    ok(&through, &["get", "nodeimage", "node-1"]).await;
    // Its own NodeImage's spec is the server's: a foreign pull Secret written there is refused
    // (through kube-apiserver RBAC may already refuse it; directly, the node restriction does).
    let foreign_secret = r#"{"spec": {"images": {"r.example/app": {
        "pullSecrets": [{"namespace": "kube-system", "name": "regcred"}],
        "tags": [{"tag": "1", "version": 1, "pullPolicy": {"ttlSecondsAfterFinished": 300}}]}}}}"#;
    for kubectl in [&through, &direct] {
        let refused = fails(
            kubectl,
            &[
                "patch",
                "nodeimage",
                "node-1",
                "--type",
                "merge",
                "-p",
                foreign_secret,
            ],
        )
        .await;
        assert!(
            refused.contains("forbidden") || refused.contains("Forbidden"),
            "{refused}"
        );
    }
    let refused = fails(
        &direct,
        &[
            "patch",
            "nodeimage",
            "node-1",
            "--type",
            "merge",
            "-p",
            foreign_secret,
        ],
    )
    .await;
    assert!(
        refused.contains(r#"node "node-1" may not modify spec of its NodeImage"#),
        "{refused}"
    );
    let stored = ok(&env.admin, &["get", "nodeimage", "node-1", "-o", "json"]).await;
    assert!(
        !stored.contains("regcred"),
        "nothing of it was stored: {stored}"
    );
    // RBAC lets the agents' service account read every NodeImage; the node identity narrows it.
    for kubectl in [&through, &direct] {
        for args in [
            &["get", "nodeimage", "node-2"][..],
            &["get", "nodeimages"][..],
        ] {
            let refused = fails(kubectl, args).await;
            assert!(
                refused.contains(r#"node "node-1" may only access its own NodeImage"#),
                "{refused}"
            );
        }
    }
}
