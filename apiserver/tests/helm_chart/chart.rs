//! The chart on a real kube-apiserver: lint, schema errors, server-side dry runs of its
//! storage variants, the same objects as `kubectl kustomize manifests/`, and a real
//! `helm install` whose workloads run and complete a job, `upgrade` and `uninstall`.

use std::path::Path;

use prepull_apiserver::certs;
use prepull_apiserver::options::CertsOptions;
use prepull_testbed::{Etcd, KubeApiserver, KubeControllerManager, Kubectl, eventually};
use serde_json::Value;

use crate::helm::{Helm, chart_dir};
use crate::objects::{decode, differences, parse_embedded_yaml};

pub const NAMESPACE: &str = "prepull-system";

/// The TLS files `prepull-apiserver certs` writes, as chart values.
const TLS_FILES: [(&str, &str); 8] = [
    ("tls.apiserver.ca", "ca.crt"),
    ("tls.apiserver.cert", "tls.crt"),
    ("tls.apiserver.key", "tls.key"),
    ("tls.etcd.ca", "etcd-ca.crt"),
    ("tls.etcd.serverCert", "etcd-server.crt"),
    ("tls.etcd.serverKey", "etcd-server.key"),
    ("tls.etcd.clientCert", "etcd-client.crt"),
    ("tls.etcd.clientKey", "etcd-client.key"),
];

async fn kubectl_ok(kubectl: &Kubectl, args: &[&str]) -> String {
    kubectl
        .run(args)
        .await
        .unwrap_or_else(|err| panic!("{err:#}"))
}

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

pub async fn the_chart_matches_the_manifests_and_installs_upgrades_and_uninstalls() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start().await.expect("etcd starts");
    // Aggregator routing: kube-apiserver dials the Service's endpoints (no kube-proxy here).
    let kube = KubeApiserver::start_with_args(&etcd, &["--enable-aggregator-routing=true"])
        .await
        .expect("kube-apiserver starts");
    let kubectl = kube.kubectl();
    let helm = Helm::locate(dir.path(), kube.kubeconfig()).await;
    let chart = chart_dir().display().to_string();

    lint(&helm, &chart).await;
    schema_errors_name_the_value(&helm, &chart).await;

    // manifests/ with certificates made by `prepull-apiserver certs`, and the chart given the
    // same files: kustomize and helm must render the same objects.
    let manifests = dir.path().join("manifests");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests"),
        &manifests,
    );
    let certs_dir = manifests.join("certs");
    certs::write(&CertsOptions {
        service: "prepull-apiserver".into(),
        namespace: NAMESPACE.into(),
        out: certs_dir.clone(),
        sans: vec![],
        etcd_service: "prepull-etcd".into(),
    })
    .expect("certs for the manifests");
    let mut with_certs = vec![
        "template".to_string(),
        "prepull".into(),
        chart.clone(),
        "-n".into(),
        NAMESPACE.into(),
        "--set".into(),
        "tls.generate=false".into(),
    ];
    for (value, file) in TLS_FILES {
        with_certs.push("--set-file".into());
        with_certs.push(format!("{value}={}", certs_dir.join(file).display()));
    }
    let args: Vec<&str> = with_certs.iter().map(String::as_str).collect();
    let rendered = helm.ok(&args).await;
    let kustomized = kubectl_ok(&kubectl, &["kustomize", &manifests.display().to_string()]).await;
    let mut from_helm = decode(&kubectl, &rendered).await;
    let mut from_kustomize = decode(&kubectl, &kustomized).await;
    // `helm install --create-namespace` makes the namespace; the chart does not own it.
    assert!(from_kustomize.remove("Namespace//prepull-system").is_some());
    for objects in [&mut from_helm, &mut from_kustomize] {
        parse_embedded_yaml(
            objects,
            "ConfigMap/prepull-system/prepull-credential-providers",
            "/data/credential-providers.yaml",
        );
    }
    assert_eq!(from_kustomize.len(), 27, "{:?}", from_kustomize.keys());
    let diff = differences(&from_kustomize, &from_helm);
    assert!(diff.is_empty(), "{}", diff.join("\n"));

    // Every storage variant validates server-side (the generated certificates too).
    kubectl_ok(&kubectl, &["create", "namespace", NAMESPACE]).await;
    for variant in [
        vec![],
        vec![
            "--set",
            "storage.type=embedded",
            "--set",
            "apiserver.replicas=1",
        ],
        vec![
            "--set",
            "storage.type=externalEtcd",
            "--set",
            "storage.externalEtcd.servers={https://etcd-0.example:2379,https://etcd-1.example:2379}",
            "--set",
            "storage.externalEtcd.clientSecretName=my-etcd-client",
        ],
    ] {
        let mut args = vec!["template", "prepull", &chart, "-n", NAMESPACE];
        args.extend(variant.iter().copied());
        let rendered = helm.ok(&args).await;
        let out = kubectl
            .run_with_stdin(&["apply", "--dry-run=server", "-f", "-"], Some(&rendered))
            .await
            .unwrap_or_else(|err| panic!("{variant:?}: {err:#}"));
        assert!(
            out.contains("deployment.apps/prepull-apiserver created (server dry run)"),
            "{variant:?}: {out}"
        );
        if variant.is_empty() {
            assert!(
                out.contains("statefulset.apps/prepull-etcd created"),
                "{out}"
            );
        } else {
            assert!(!out.contains("statefulset"), "{variant:?}: {out}");
            assert!(
                !out.contains("prepull-etcd-client-tls"),
                "{variant:?}: {out}"
            );
        }
        if variant.contains(&"storage.type=embedded") {
            assert!(
                rendered.contains("--data-dir=/var/lib/prepull"),
                "{rendered}"
            );
            assert!(out.contains("persistentvolumeclaim/prepull-apiserver-data created"));
        }
    }
    // The namespace stays (dry runs left it empty): without kube-controller-manager's
    // namespace controller a deleted one would stay Terminating and refuse the install.

    // kube-controller-manager's ClusterRole aggregation folds the chart's user roles into the
    // built-in view/edit/admin roles.
    let controller_manager =
        KubeControllerManager::start_with_controllers(&kube, &["clusterrole-aggregation"])
            .await
            .expect("kube-controller-manager starts");
    install_upgrade_uninstall(&helm, &chart, &kube, &kubectl).await;
    drop(controller_manager);
    drop(kube);
    drop(etcd);
}

async fn lint(helm: &Helm, chart: &str) {
    for values in [
        vec![],
        vec![
            "--set",
            "storage.type=embedded",
            "--set",
            "apiserver.replicas=1",
        ],
        vec![
            "--set",
            "monitoring.prometheusRule.enabled=true",
            "--set",
            "monitoring.dashboard.enabled=true",
        ],
    ] {
        let mut args = vec!["lint", "--strict", chart];
        args.extend(values.iter().copied());
        let out = helm.ok(&args).await;
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{out}"
        );
    }
}

async fn schema_errors_name_the_value(helm: &Helm, chart: &str) {
    for (set, expected) in [
        ("apiserver.replicas=0", "/apiserver/replicas"),
        ("storage.type=sqlite", "/storage/type"),
        ("nodeagent.criSocket=relative.sock", "/nodeagent/criSocket"),
        // helm 4.3.2 names a random path for a failed `propertyNames` under a `$ref` (seen:
        // `/tls/validityDays`, `/imagePullSecrets/criSocket`), so only its reason is checked.
        (
            "apiserver.env.NOT_OURS=1",
            "'NOT_OURS' does not match pattern '^PREPULL_[A-Z0-9_]+$'",
        ),
        ("apiserverr.replicas=1", "apiserverr"),
        (
            "storage.type=embedded",
            "storage.type embedded allows one API server replica only",
        ),
        (
            "storage.type=externalEtcd",
            "storage.type externalEtcd needs storage.externalEtcd.servers",
        ),
        ("tls.generate=false", "tls.apiserver.ca is required"),
    ] {
        let err = helm
            .fails(&["template", "prepull", chart, "--set", set])
            .await;
        assert!(err.contains(expected), "--set {set}: {err}");
    }
}

fn jsonpath(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => panic!("no {pointer} in {object}"),
    }
}

async fn get_json(kubectl: &Kubectl, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl_ok(kubectl, &all).await).expect("JSON")
}

/// The kinds a release creates, for "nothing left behind".
const RELEASE_KINDS: &str = "deployments,daemonsets,statefulsets,services,secrets,configmaps,\
serviceaccounts,roles,rolebindings,networkpolicies,clusterroles,clusterrolebindings,\
apiservices,persistentvolumeclaims";

async fn install_upgrade_uninstall(
    helm: &Helm,
    chart: &str,
    kube: &KubeApiserver,
    kubectl: &Kubectl,
) {
    let out = helm
        .ok(&[
            "install",
            "prepull",
            chart,
            "-n",
            NAMESPACE,
            "--create-namespace",
        ])
        .await;
    assert!(out.contains("STATUS: deployed"), "{out}");
    let deployment = get_json(
        kubectl,
        &["get", "deployment", "prepull-apiserver", "-n", NAMESPACE],
    )
    .await;
    assert_eq!(jsonpath(&deployment, "/spec/replicas"), "2");
    // The generated serving certificate names the Service, and both APIServices trust its CA.
    let secret = get_json(
        kubectl,
        &["get", "secret", "prepull-apiserver-tls", "-n", NAMESPACE],
    )
    .await;
    let ca = jsonpath(&secret, "/data/ca.crt");
    let cert = jsonpath(&secret, "/data/tls.crt");
    for version in ["v1alpha1", "v1beta1"] {
        let service = get_json(
            kubectl,
            &["get", "apiservice", &format!("{version}.apps.kruise.io")],
        )
        .await;
        assert_eq!(jsonpath(&service, "/spec/caBundle"), ca);
    }
    crate::tls::assert_signed_for(&cert, &ca, &format!("prepull-apiserver.{NAMESPACE}.svc"));
    let etcd_server = get_json(
        kubectl,
        &["get", "secret", "prepull-etcd-server-tls", "-n", NAMESPACE],
    )
    .await;
    crate::tls::assert_signed_for(
        &jsonpath(&etcd_server, "/data/tls.crt"),
        &jsonpath(&etcd_server, "/data/ca.crt"),
        &format!("prepull-etcd.{NAMESPACE}.svc"),
    );

    for (role, resource, verb) in [
        ("view", "imagepulljobs", "watch"),
        ("view", "nodeimages", "list"),
        ("edit", "imagelistpulljobs", "create"),
        ("admin", "imagepulljobs/status", "patch"),
    ] {
        wait_for_aggregated_rule(kubectl, role, resource, verb, true).await;
    }

    // The release's own objects run, and a job completes through kube-apiserver.
    crate::release_run::a_job_completes_on_the_installed_release(kube, kubectl).await;

    // An upgrade with a changed value changes it and keeps the certificates.
    let out = helm
        .ok(&[
            "upgrade",
            "prepull",
            chart,
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            "apiserver.replicas=3",
            "--set",
            "nodeagent.maxConcurrentPulls=5",
        ])
        .await;
    assert!(out.contains("REVISION: 2"), "{out}");
    let deployment = get_json(
        kubectl,
        &["get", "deployment", "prepull-apiserver", "-n", NAMESPACE],
    )
    .await;
    assert_eq!(jsonpath(&deployment, "/spec/replicas"), "3");
    let config = get_json(
        kubectl,
        &[
            "get",
            "configmap",
            "prepull-nodeagent-config",
            "-n",
            NAMESPACE,
        ],
    )
    .await;
    assert_eq!(jsonpath(&config, "/data/PREPULL_MAX_CONCURRENT_PULLS"), "5");
    let secret = get_json(
        kubectl,
        &["get", "secret", "prepull-apiserver-tls", "-n", NAMESPACE],
    )
    .await;
    assert_eq!(jsonpath(&secret, "/data/tls.crt"), cert, "certificate kept");
    assert_eq!(jsonpath(&secret, "/data/ca.crt"), ca, "CA kept");

    let listed = kubectl_ok(
        kubectl,
        &[
            "get",
            RELEASE_KINDS,
            "-A",
            "-l",
            "app.kubernetes.io/instance=prepull",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(listed.lines().count(), 27, "{listed}");

    let out = helm.ok(&["uninstall", "prepull", "-n", NAMESPACE]).await;
    assert!(out.contains("uninstalled"), "{out}");
    let left = kubectl_ok(
        kubectl,
        &[
            "get",
            RELEASE_KINDS,
            "-A",
            "-l",
            "app.kubernetes.io/part-of=prepull",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(left.trim(), "", "left behind after uninstall:\n{left}");
    // Releases in any state (helm 4 has no `--all`: each state is asked for).
    let releases = helm
        .ok(&[
            "list",
            "-n",
            NAMESPACE,
            "-q",
            "--deployed",
            "--failed",
            "--pending",
            "--superseded",
            "--uninstalled",
            "--uninstalling",
        ])
        .await;
    assert_eq!(releases.trim(), "", "{releases}");
    // ... and the built-in roles lose Prepull's rules again.
    wait_for_aggregated_rule(kubectl, "view", "imagepulljobs", "watch", false).await;
}

/// Waits until ClusterRole `role` grants (or no longer grants) `verb` on apps.kruise.io
/// `resource`.
async fn wait_for_aggregated_rule(
    kubectl: &Kubectl,
    role: &str,
    resource: &str,
    verb: &str,
    granted: bool,
) {
    eventually(
        &format!("ClusterRole {role} grants {verb} {resource}: {granted}"),
        std::time::Duration::from_secs(30),
        || async {
            let text = kubectl
                .run(&["get", "clusterrole", role, "-o", "json"])
                .await?;
            let role: Value = serde_json::from_str(&text)?;
            let has = role["rules"].as_array().into_iter().flatten().any(|rule| {
                let has = |field: &str, value: &str| {
                    rule[field]
                        .as_array()
                        .is_some_and(|values| values.iter().any(|v| v == value))
                };
                has("apiGroups", "apps.kruise.io")
                    && has("resources", resource)
                    && has("verbs", verb)
            });
            anyhow::ensure!(has == granted, "not yet");
            Ok(())
        },
    )
    .await
    .unwrap();
}
