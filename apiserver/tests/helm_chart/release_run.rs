//! The installed release, run: its etcd StatefulSet, its API server Deployment and its node
//! agent DaemonSet each started from the objects `helm install` created (their args, env,
//! ConfigMaps, generated TLS Secrets, service accounts and RBAC), with the test bed playing
//! kubelet ([`PodRunner`]: the same programs instead of images, a mount namespace per pod) and
//! the endpoint controller (the Service's EndpointSlice). Then a job created through
//! kube-apiserver completes on a node with real containerd.

use std::collections::BTreeMap;
use std::time::Duration;

use prepull_testbed::system::Binaries;
use prepull_testbed::{
    Containerd, KubeApiserver, Kubectl, PodRunner, Registry, RegistryOptions, eventually, host_ip,
};
use serde_json::{Value, json};

use crate::chart::NAMESPACE;

const WAIT: Duration = Duration::from_secs(90);
/// The agent's CRI socket directory as the chart's DaemonSet mounts it (the default value).
const CRI_SOCKET_DIR: &str = "/run/containerd";
const CREDENTIAL_PROVIDER_BIN_DIR: &str =
    "/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec";
/// The API server's container port in the chart.
const APISERVER_PORT: u16 = 6443;

async fn ok(kubectl: &Kubectl, args: &[&str]) -> String {
    kubectl
        .run(args)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

async fn apply(kubectl: &Kubectl, object: Value) {
    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(&object.to_string()))
        .await
        .unwrap_or_else(|err| panic!("{err:#}"));
}

/// Runs the release's workloads and completes a job through kube-apiserver; stops them again.
pub async fn a_job_completes_on_the_installed_release(kube: &KubeApiserver, kubectl: &Kubectl) {
    let dir = tempfile::tempdir().unwrap();
    let binaries = Binaries::beside_current_exe(true).await.expect("binaries");
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let demo = registry
        .push_test_image("demo/hello", "v1")
        .await
        .expect("push");
    let containerd = Containerd::start(&[registry.host_port()])
        .await
        .expect("containerd");
    let socket_dir = containerd
        .endpoint()
        .trim_start_matches("unix://")
        .rsplit_once('/')
        .map(|(dir, _)| dir.to_owned())
        .unwrap();
    let provider_bin = dir.path().join("credential-provider-bin");
    std::fs::create_dir_all(&provider_bin).unwrap();
    let runner = PodRunner {
        kubectl: kubectl.clone(),
        kube_host: "127.0.0.1".into(),
        kube_port: kube.port(),
        cluster_ca_file: kube.pki().cluster_ca_file.clone(),
        dir: dir.path().join("pods"),
        programs: BTreeMap::from([
            (
                "ghcr.io/prepull/prepull-apiserver".into(),
                binaries.apiserver.clone(),
            ),
            (
                "ghcr.io/prepull/prepull-nodeagent".into(),
                binaries.agent.clone(),
            ),
            ("etcd".into(), prepull_testbed::ETCD_BINARY.into()),
        ]),
        host_paths: BTreeMap::from([
            (CRI_SOCKET_DIR.into(), socket_dir.into()),
            (CREDENTIAL_PROVIDER_BIN_DIR.into(), provider_bin),
        ]),
        hosts: vec![format!("prepull-etcd.{NAMESPACE}.svc")],
    };
    apply(
        kubectl,
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}),
    )
    .await;
    // The service-account controller's part: the namespace's `default` account (etcd's pod).
    ok(
        kubectl,
        &["create", "serviceaccount", "default", "-n", NAMESPACE],
    )
    .await;
    let etcd = runner
        .run(NAMESPACE, "statefulset/prepull-etcd", "node-1")
        .await
        .expect("the etcd pod starts");
    let apiserver = runner
        .run(NAMESPACE, "deployment/prepull-apiserver", "node-1")
        .await
        .expect("the API server pod starts");
    // The endpoint controller's part: the Service's endpoints are the pod, at this machine's
    // address (endpoints may not be loopback ones).
    let pod_ip = host_ip().await.expect("an address for the pods");
    apply(
        kubectl,
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "prepull-apiserver-pod", "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": "prepull-apiserver"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [pod_ip], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": APISERVER_PORT, "protocol": "TCP"}],
        }),
    )
    .await;
    apply(
        kubectl,
        json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "prepull-apiserver", "namespace": NAMESPACE},
            "subsets": [{"addresses": [{"ip": pod_ip}],
                         "ports": [{"name": "https", "port": APISERVER_PORT, "protocol": "TCP"}]}],
        }),
    )
    .await;
    let available = eventually("the APIServices become Available", WAIT, || async {
        for version in ["v1alpha1", "v1beta1"] {
            let status = kubectl
                .run(&[
                    "get",
                    "apiservice",
                    &format!("{version}.apps.kruise.io"),
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
                ])
                .await?;
            anyhow::ensure!(status.trim() == "True", "{version}: Available={status}");
        }
        Ok(())
    })
    .await;
    if let Err(err) = available {
        panic!(
            "{err:#}\n--- etcd pod ---\n{}\n--- API server pod ---\n{}",
            etcd.process.logs(),
            apiserver.process.logs()
        );
    }
    let agent = runner
        .run(NAMESPACE, "daemonset/prepull-nodeagent", "node-1")
        .await
        .expect("the agent pod starts");
    let registered = eventually("the agent registers node-1", WAIT, || async {
        kubectl
            .run(&["get", "nodeimage", "node-1", "-o", "name"])
            .await
    })
    .await;
    if let Err(err) = registered {
        panic!(
            "{err:#}\n--- agent pod ---\n{}\n--- API server pod ---\n{}",
            agent.process.logs(),
            apiserver.process.logs()
        );
    }

    apply(
        kubectl,
        json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "after-install", "namespace": "default"},
            "spec": {"image": demo.reference, "completionPolicy": {"type": "Always"}},
        }),
    )
    .await;
    let completed = eventually("the job completes on node-1", WAIT, || async {
        let out = kubectl
            .run(&[
                "get",
                "imagepulljob",
                "after-install",
                "-o",
                "jsonpath={.status.succeeded}/{.status.desired} {.status.completionTime}",
            ])
            .await?;
        anyhow::ensure!(
            out.starts_with("1/1 ") && out.trim().len() > 4,
            "status: {out}"
        );
        Ok(())
    })
    .await;
    if let Err(err) = completed {
        panic!(
            "{err:#}\n--- agent pod ---\n{}\n--- API server pod ---\n{}",
            agent.process.logs(),
            apiserver.process.logs()
        );
    }
    let image = ok(
        kubectl,
        &[
            "get",
            "nodeimage",
            "node-1",
            "-o",
            "jsonpath={.status.imageStatuses.*.tags[0].phase}",
        ],
    )
    .await;
    assert_eq!(image.trim(), "Succeeded");

    // The kubelet and endpoint controller leave again; the release stays installed.
    ok(kubectl, &["delete", "imagepulljob", "after-install"]).await;
    for pod in [agent, apiserver, etcd] {
        pod.stop(kubectl).await.expect("the pod stops");
    }
    ok(
        kubectl,
        &[
            "delete",
            "endpointslice/prepull-apiserver-pod",
            "endpoints/prepull-apiserver",
            "-n",
            NAMESPACE,
        ],
    )
    .await;
    ok(kubectl, &["delete", "node", "node-1"]).await;
    ok(
        kubectl,
        &["delete", "serviceaccount", "default", "-n", NAMESPACE],
    )
    .await;
}
