//! kube-apiserver built from source runs on etcd, kubectl manages plain API objects through it,
//! and kube-controller-manager finishes namespace deletions.

use std::time::Duration;

use prepull_testbed::{
    Etcd, FRONT_PROXY_CLIENT_NAME, KubeApiserver, KubeControllerManager, Kubectl, assert_eventually,
};
use serde_json::Value;

const NODE: &str = r#"{
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {"name": "node-a", "labels": {"prepull.test/pool": "smoke"}}
}"#;

const POD: &str = r#"{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "web", "namespace": "default"},
  "spec": {
    "nodeName": "node-a",
    "automountServiceAccountToken": false,
    "containers": [{"name": "web", "image": "registry.invalid/web:1"}]
  }
}"#;

async fn start_apiserver() -> (Etcd, KubeApiserver) {
    let etcd = Etcd::start().await.expect("etcd starts");
    let apiserver = match KubeApiserver::start(&etcd).await {
        Ok(apiserver) => apiserver,
        Err(error) => panic!("kube-apiserver starts: {error:#}"),
    };
    (etcd, apiserver)
}

#[tokio::test]
async fn kube_apiserver_becomes_ready_and_answers_as_admin() {
    let (_etcd, apiserver) = start_apiserver().await;
    let readyz = apiserver
        .get_as_admin("/readyz")
        .await
        .expect("GET /readyz");
    assert_eq!(readyz.status, 200, "{}", readyz.body);
    let version: Value = serde_json::from_str(
        &apiserver
            .get_as_admin("/version")
            .await
            .expect("GET /version")
            .body,
    )
    .expect("/version is JSON");
    assert!(
        version["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "{version}"
    );
}

#[tokio::test]
async fn kubectl_creates_and_lists_a_node_and_a_pod_bound_to_it() {
    let (_etcd, apiserver) = start_apiserver().await;
    let kubectl = apiserver.kubectl();

    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(NODE))
        .await
        .expect("node created");
    // The ServiceAccount admission plugin needs the namespace's `default` ServiceAccount, which
    // only the (not running) serviceaccount controller would create.
    kubectl
        .run(&["create", "serviceaccount", "default", "-n", "default"])
        .await
        .expect("service account created");
    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(POD))
        .await
        .expect("pod created");

    let nodes = kubectl
        .run(&[
            "get",
            "nodes",
            "-l",
            "prepull.test/pool=smoke",
            "-o",
            "name",
        ])
        .await
        .expect("nodes listed");
    assert_eq!(nodes.trim(), "node/node-a");
    let pods = kubectl
        .run(&[
            "get",
            "pods",
            "-n",
            "default",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}{\"\\n\"}{end}",
        ])
        .await
        .expect("pods listed");
    assert_eq!(pods.trim(), "web=node-a");
}

#[tokio::test]
async fn kube_system_publishes_the_request_header_configuration() {
    let (_etcd, apiserver) = start_apiserver().await;
    let kubectl = apiserver.kubectl();

    // kube-apiserver writes this ConfigMap from a post-start hook, possibly after /readyz.
    let config_map: Value = assert_eventually(
        "extension-apiserver-authentication",
        Duration::from_secs(30),
        || async {
            let json = kubectl
                .run(&[
                    "get",
                    "configmap",
                    "-n",
                    "kube-system",
                    "extension-apiserver-authentication",
                    "-o",
                    "json",
                ])
                .await?;
            anyhow::Ok(serde_json::from_str::<Value>(&json)?)
        },
    )
    .await;

    let data = &config_map["data"];
    let front_proxy_ca = apiserver.pki().front_proxy_ca.cert_pem();
    assert_eq!(
        data["requestheader-client-ca-file"].as_str().map(str::trim),
        Some(front_proxy_ca.trim())
    );
    assert_eq!(
        data["requestheader-allowed-names"],
        format!("[\"{FRONT_PROXY_CLIENT_NAME}\"]")
    );
    assert_eq!(
        data["requestheader-username-headers"],
        "[\"X-Remote-User\"]"
    );
    assert_eq!(data["requestheader-group-headers"], "[\"X-Remote-Group\"]");
    assert_eq!(
        data["requestheader-extra-headers-prefix"],
        "[\"X-Remote-Extra-\"]"
    );
    let client_ca = apiserver.pki().cluster_ca.cert_pem();
    assert_eq!(
        data["client-ca-file"].as_str().map(str::trim),
        Some(client_ca.trim())
    );
}

#[tokio::test]
async fn deleting_a_namespace_holding_a_config_map_completes_with_the_controller_manager() {
    let (_etcd, apiserver) = start_apiserver().await;
    let _controllers = match KubeControllerManager::start(&apiserver).await {
        Ok(controllers) => controllers,
        Err(error) => panic!("kube-controller-manager starts: {error:#}"),
    };
    let kubectl = apiserver.kubectl();

    kubectl
        .run(&["create", "namespace", "doomed"])
        .await
        .expect("namespace created");
    kubectl
        .run(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "doomed",
            "--from-literal=mode=test",
        ])
        .await
        .expect("config map created");
    kubectl
        .run(&["delete", "namespace", "doomed", "--wait=false"])
        .await
        .expect("deletion accepted");

    assert_eventually(
        "namespace doomed to be gone",
        Duration::from_secs(90),
        || async {
            let namespaces = kubectl.run(&["get", "namespaces", "-o", "name"]).await?;
            if namespaces.lines().any(|line| line == "namespace/doomed") {
                anyhow::bail!("namespace doomed still exists");
            }
            anyhow::Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_user_kubeconfig_authenticates_as_that_user_and_rbac_forbids_what_is_not_granted() {
    let (_etcd, apiserver) = start_apiserver().await;
    let alice = Kubectl::new(
        apiserver
            .write_user_kubeconfig("alice", &["devs"])
            .expect("kubeconfig written"),
    );

    let identity = alice
        .run(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
        ])
        .await
        .expect("whoami answers");
    assert!(identity.starts_with("alice "), "{identity}");
    assert!(identity.contains("\"devs\""), "{identity}");

    let error = alice
        .run(&["get", "nodes"])
        .await
        .expect_err("alice may not list nodes");
    assert!(error.to_string().contains("forbidden"), "{error:#}");
}
