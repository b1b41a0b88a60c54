//! A kubelet credential-provider plugin (a small shell script) supplies the credentials of a
//! private registry; its Registry-scoped answer is cached.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{Containerd, Registry, RegistryOptions};
use serde_json::json;
use support::{Agent, Server, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_provider_plugin_unlocks_a_private_registry_and_is_called_once_while_cached() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::private("alice", "s3cret"))
        .await
        .expect("registry");
    let v1 = registry
        .push_test_image("team/app", "v1")
        .await
        .expect("push");
    registry
        .push_test_image("team/app", "v2")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");

    let bin_dir = server.path("plugins");
    std::fs::create_dir_all(&bin_dir).expect("plugin dir");
    let calls = server.path("calls");
    let requests = server.path("requests");
    let response = json!({
        "kind": "CredentialProviderResponse",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "cacheKeyType": "Registry",
        "cacheDuration": "5m",
        "auth": {registry.host_port(): {"username": "alice", "password": "s3cret"}},
    });
    let script = format!(
        "#!/bin/sh\ncat >> \"$REQUESTS\"\necho >> \"$REQUESTS\"\necho call >> \"$CALLS\"\nprintf '%s' '{response}'\n"
    );
    let plugin = bin_dir.join("test-plugin");
    std::fs::write(&plugin, script).expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = server.path("providers.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: test-plugin
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  matchImages: [\"127.0.0.*:{port}\"]
  defaultCacheDuration: 1m
  env:
  - name: CALLS
    value: {calls}
  - name: REQUESTS
    value: {requests}
",
            port = registry.port(),
            calls = calls.display(),
            requests = requests.display(),
        ),
    )
    .expect("write provider config");

    let kubeconfig = server.node_kubeconfig("n1");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
        "--credential-provider-config",
        config.to_str().unwrap(),
        "--credential-provider-bin-dir",
        bin_dir.to_str().unwrap(),
    ])
    .await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;
    let image = v1.reference.rsplit_once(':').unwrap().0.to_owned();
    server.add_tag("n1", &image, "v1", json!({})).await;
    let status = wait_for_phase(
        &admin,
        "n1",
        &image,
        "v1",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;
    assert_eq!(status.image_id, v1.config_digest);

    // Same registry, another tag: the cached answer serves it.
    let patch = json!({"spec": {"images": {&image: {"tags": [
        {"tag": "v1", "pullPolicy": {"ttlSecondsAfterFinished": 300}, "createdAt": "2026-01-01T00:00:00Z"},
        {"tag": "v2", "imagePullPolicy": "Always", "pullPolicy": {"ttlSecondsAfterFinished": 300}, "createdAt": "2026-01-01T00:00:00Z"},
    ]}}}});
    server
        .kubectl
        .run(&[
            "patch",
            "nodeimage",
            "n1",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .await
        .expect("kubectl patch");
    wait_for_phase(
        &admin,
        "n1",
        &image,
        "v2",
        ImagePullPhase::Succeeded,
        PULL_TIMEOUT,
    )
    .await;

    let calls = std::fs::read_to_string(&calls).expect("the plugin was called");
    assert_eq!(calls.lines().count(), 1, "plugin calls: {calls:?}");
    let request = std::fs::read_to_string(&requests).expect("request saved");
    let request: serde_json::Value =
        serde_json::from_str(request.lines().next().expect("a request")).expect("JSON request");
    assert_eq!(request["kind"], "CredentialProviderRequest");
    assert_eq!(request["image"], v1.reference);
}
