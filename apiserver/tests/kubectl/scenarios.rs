//! What a kubectl user does, against the real server. Each scenario takes a fresh server; the
//! same scenarios run on the embedded store and on etcd (see `main.rs`).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestServer, example};

/// How long a streamed kubectl line may take to show up.
const STREAM_TIMEOUT: Duration = Duration::from_secs(20);

const JOB: &str = "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: job-a
  namespace: default
  labels:
    app: web
spec:
  image: nginx:1.25
";

fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

pub async fn the_documented_examples_apply_and_print_their_columns(server: TestServer) {
    for file in [
        "docs-image-pull-job-sandbox-config.yaml",
        "docs-image-pull-job-pull-policy-always.yaml",
        "docs-node-image-empty.yaml",
    ] {
        let out = server
            .kubectl_stdin(&["apply", "-f", "-"], &example(file))
            .await;
        assert!(out.contains("created"), "{file}: {out}");
    }
    // The documented `kubectl edit` result, applied over the empty NodeImage: a second apply
    // is a merge patch of the same object.
    let out = server
        .kubectl_stdin(&["apply", "-f", "-"], &example("docs-node-image-edit.yaml"))
        .await;
    assert!(out.contains("configured"), "{out}");

    let jobs = server
        .kubectl(&["get", "imagepulljobs", "-n", "default"])
        .await;
    assert_eq!(
        header(&jobs),
        [
            "NAME", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE", "MESSAGE"
        ],
        "{jobs}"
    );
    assert!(
        jobs.lines()
            .any(|l| l.starts_with("job-with-sandbox-config ")),
        "{jobs}"
    );
    assert!(
        jobs.lines().any(|l| l.starts_with("job-pull-always ")),
        "{jobs}"
    );

    let nodes = server.kubectl(&["get", "ni"]).await;
    assert_eq!(
        header(&nodes),
        ["NAME", "DESIRED", "PULLING", "SUCCEED", "FAILED", "AGE"],
        "{nodes}"
    );
    let tag = server
        .kubectl(&[
            "get",
            "nodeimage",
            "node-xxx",
            "-o",
            "jsonpath={.spec.images.ubuntu.tags[0].pullPolicy.activeDeadlineSeconds}",
        ])
        .await;
    assert_eq!(tag, "1200");

    // The short names and the category work too.
    let all = server.kubectl(&["get", "kruise", "-A", "-o", "name"]).await;
    assert!(
        all.contains("imagepulljob.apps.kruise.io/job-pull-always"),
        "{all}"
    );
    assert!(all.contains("nodeimage.apps.kruise.io/node-xxx"), "{all}");
    let short = server
        .kubectl(&["get", "ipj", "-n", "default", "-o", "name"])
        .await;
    assert_eq!(short.lines().count(), 2, "{short}");
}

pub async fn get_as_yaml_shows_the_defaults(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let yaml = server
        .kubectl(&["get", "ipj", "job-a", "-n", "default", "-o", "yaml"])
        .await;
    for default in [
        "backoffLimit: 3",
        "timeoutSeconds: 600",
        "type: Always",
        "imagePullPolicy: IfNotPresent",
        "parallelism: 1",
    ] {
        assert!(yaml.contains(default), "{default} missing in:\n{yaml}");
    }
    assert!(
        yaml.contains("apiVersion: apps.kruise.io/v1alpha1"),
        "{yaml}"
    );
    assert!(yaml.contains("generation: 1"), "{yaml}");
}

pub async fn get_watch_streams_a_change_made_by_another_client(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let mut watch = server.kubectl_stream(&["get", "ipj", "-n", "default", "-w", "-o", "wide"]);
    let first = watch
        .line_matching(STREAM_TIMEOUT, |l| l.starts_with("job-a "))
        .await
        .expect("the current row");
    assert!(first.split_whitespace().any(|c| c == "1"), "{first}");
    server
        .kubectl(&[
            "patch",
            "ipj",
            "job-a",
            "-n",
            "default",
            "--type=merge",
            "-p",
            r#"{"spec":{"parallelism":7}}"#,
        ])
        .await;
    let changed = watch
        .line_matching(STREAM_TIMEOUT, |l| l.starts_with("job-a "))
        .await
        .expect("the changed row");
    assert!(changed.split_whitespace().any(|c| c == "7"), "{changed}");
}

pub async fn patch_merges_the_documented_node_image_patch_and_json_patches(server: TestServer) {
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &example("docs-node-image-empty.yaml"),
        )
        .await;
    let patch = example("docs-node-image-merge-patch.json");
    let out = server
        .kubectl(&[
            "patch",
            "nodeimage",
            "node-xxx",
            "--type=merge",
            "-p",
            patch.trim(),
        ])
        .await;
    assert!(out.contains("patched"), "{out}");
    let ttl = server
        .kubectl(&[
            "get", "ni", "node-xxx", "-o",
            "jsonpath={.spec.images.ubuntu.tags[0].tag}/{.spec.images.ubuntu.tags[0].pullPolicy.ttlSecondsAfterFinished}",
        ])
        .await;
    assert_eq!(ttl, "latest/300");
    server
        .kubectl(&[
            "patch",
            "ni",
            "node-xxx",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/labels/zone","value":"z1"}]"#,
        ])
        .await;
    let zone = server
        .kubectl(&[
            "get",
            "ni",
            "node-xxx",
            "-o",
            "jsonpath={.metadata.labels.zone}",
        ])
        .await;
    assert_eq!(zone, "z1");
    // kubectl's default patch type, strategic merge, works too.
    server
        .kubectl(&[
            "patch",
            "ni",
            "node-xxx",
            "-p",
            r#"{"metadata":{"labels":{"a":"b"}}}"#,
        ])
        .await;
    let labels = server
        .kubectl(&[
            "get",
            "ni",
            "node-xxx",
            "-o",
            "jsonpath={.metadata.labels.a}/{.metadata.labels.zone}",
        ])
        .await;
    assert_eq!(labels, "b/z1");
}

pub async fn edit_with_a_scripted_editor_changes_the_object(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let editor = server.data_dir.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/image: nginx:1.25/image: nginx:1.27/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = server
        .kubectl
        .command()
        .args(["edit", "ipj", "job-a", "-n", "default"])
        .env("KUBE_EDITOR", &editor)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = server
        .kubectl(&[
            "get",
            "ipj",
            "job-a",
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.image}",
        ])
        .await;
    assert_eq!(image, "nginx:1.27");
    let generation = server
        .kubectl(&[
            "get",
            "ipj",
            "job-a",
            "-n",
            "default",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    assert_eq!(generation, "2");
}

pub async fn explain_describes_the_completion_policy(server: TestServer) {
    let out = server
        .kubectl(&["explain", "imagepulljob.spec.completionPolicy"])
        .await;
    assert!(out.contains("completionPolicy"), "{out}");
    assert!(out.contains("activeDeadlineSeconds"), "{out}");
    assert!(out.contains("ttlSecondsAfterFinished"), "{out}");
}

pub async fn delete_and_wait_for_delete(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let out = server
        .kubectl(&["delete", "ipj", "job-a", "-n", "default"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    server
        .kubectl_fails(&["get", "ipj", "job-a", "-n", "default"])
        .await;

    // An object held by a finalizer: `wait --for=delete` returns once the finalizer goes.
    let held = JOB.replace(
        "  labels:\n",
        "  finalizers:\n  - example.com/hold\n  labels:\n",
    );
    server.kubectl_stdin(&["apply", "-f", "-"], &held).await;
    server
        .kubectl(&["delete", "ipj", "job-a", "-n", "default", "--wait=false"])
        .await;
    let deleting = server
        .kubectl(&[
            "get",
            "ipj",
            "job-a",
            "-n",
            "default",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(!deleting.is_empty(), "the object is marked for deletion");
    let waiter = {
        let kubectl = server.kubectl.clone();
        tokio::spawn(async move {
            kubectl
                .run(&[
                    "wait",
                    "--for=delete",
                    "ipj/job-a",
                    "-n",
                    "default",
                    "--timeout=30s",
                ])
                .await
        })
    };
    server
        .kubectl(&[
            "patch",
            "ipj",
            "job-a",
            "-n",
            "default",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .await;
    waiter
        .await
        .unwrap()
        .expect("kubectl wait returns once the object is gone");
    server
        .kubectl_fails(&["get", "ipj", "job-a", "-n", "default"])
        .await;
}

pub async fn apply_with_server_dry_run_stores_nothing(server: TestServer) {
    let out = server
        .kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], JOB)
        .await;
    assert!(out.contains("created (server dry run)"), "{out}");
    let err = server
        .kubectl_fails(&["get", "ipj", "job-a", "-n", "default"])
        .await;
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

pub async fn an_unknown_field_is_rejected_naming_its_path(server: TestServer) {
    let manifest = format!("{JOB}  foo: bar\n");
    let err = server
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(&manifest))
        .await
        .expect_err("strict validation refuses the unknown field");
    let err = format!("{err:#}");
    assert!(err.contains(r#"unknown field "spec.foo""#), "{err}");
}

pub async fn an_invalid_job_is_rejected_with_every_field_error(server: TestServer) {
    let manifest = "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: job-bad
  namespace: default
spec:
  image: ''
  parallelism: -1
  selector:
    names: [node-1]
    matchLabels: {node-type: xxx}
";
    let err = server
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .await
        .expect_err("validation refuses the job");
    let err = format!("{err:#}");
    // kubectl rewrites the 422 into one line per cause.
    assert!(
        err.contains(r#"The ImagePullJob "job-bad" is invalid"#),
        "{err}"
    );
    for field in ["spec.image", "spec.parallelism", "spec.selector"] {
        assert!(err.contains(field), "{field} missing in: {err}");
    }
    // The manual's own example makes the same selector mistake.
    let err = server
        .kubectl
        .run_with_stdin(
            &["apply", "-n", "default", "-f", "-"],
            Some(&example("docs-image-pull-job-with-always.yaml")),
        )
        .await
        .expect_err("the documented selector mistake is refused");
    assert!(format!("{err:#}").contains("spec.selector"), "{err:#}");
}

pub async fn a_stale_update_gets_a_conflict(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let current = server
        .kubectl(&["get", "ipj", "job-a", "-n", "default", "-o", "json"])
        .await;
    let mut first: Value = serde_json::from_str(&current).unwrap();
    let mut second = first.clone();
    first["spec"]["parallelism"] = 2.into();
    server
        .kubectl_stdin(&["replace", "-f", "-"], &first.to_string())
        .await;
    second["spec"]["parallelism"] = 3.into();
    let err = server
        .kubectl
        .run_with_stdin(&["replace", "-f", "-"], Some(&second.to_string()))
        .await
        .expect_err("the second replace is stale");
    let err = format!("{err:#}");
    assert!(
        err.contains("Conflict") || err.contains("the object has been modified"),
        "{err}"
    );
    assert!(
        err.contains("please apply your changes to the latest version"),
        "{err}"
    );
}

pub async fn get_in_chunks_of_ten_lists_all_hundred_objects(server: TestServer) {
    let items: Vec<Value> = (0..100)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "NodeImage",
                "metadata": {"name": format!("node-{i:03}"), "labels": {"parity": if i % 2 == 0 {"even"} else {"odd"}}},
                "spec": {}
            })
        })
        .collect();
    // A multi-document stream (a `kind: List` needs the core group, which we do not serve).
    let documents: Vec<String> = items.iter().map(Value::to_string).collect();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &format!("---\n{}", documents.join("\n---\n")),
        )
        .await;
    let output = server
        .kubectl
        .command()
        .args(["get", "ni", "--chunk-size=10", "-o", "name", "-v=6"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let names = String::from_utf8_lossy(&output.stdout);
    assert_eq!(names.lines().count(), 100, "{names}");
    let log = String::from_utf8_lossy(&output.stderr);
    let pages = log
        .lines()
        .filter(|l| l.contains("/nodeimages?") && l.contains("limit=10"))
        .count();
    assert!(pages >= 10, "kubectl fetched {pages} pages:\n{log}");

    // Label selectors.
    let even = server
        .kubectl(&["get", "ni", "-l", "parity=even", "-o", "name"])
        .await;
    assert_eq!(even.lines().count(), 50);
    let none = server
        .kubectl(&["get", "ni", "-l", "parity=even,parity!=even", "-o", "name"])
        .await;
    assert_eq!(none.trim(), "");
    let set = server
        .kubectl(&[
            "get",
            "ni",
            "-l",
            "parity in (odd)",
            "--chunk-size=7",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(set.lines().count(), 50);
}

/// The list's resourceVersion (`kubectl get -o json` prints a client-side List without one).
async fn list_resource_version(server: &TestServer) -> String {
    let list: Value = serde_json::from_str(
        &server
            .kubectl(&["get", "--raw", "/apis/apps.kruise.io/v1alpha1/nodeimages"])
            .await,
    )
    .unwrap();
    list["metadata"]["resourceVersion"]
        .as_str()
        .expect("a list resourceVersion")
        .to_string()
}

pub async fn a_restart_loses_nothing_and_a_resumed_watch_misses_no_event(mut server: TestServer) {
    for name in ["n1", "n2"] {
        server
            .kubectl_stdin(
                &["apply", "-f", "-"],
                &format!("apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: {name}\nspec: {{}}\n"),
            )
            .await;
    }
    let last_seen = list_resource_version(&server).await;
    server
        .kubectl(&["label", "ni", "n1", "step=before-restart"])
        .await;

    server.stop().await;
    server.start_again().await;

    let names = server.kubectl(&["get", "ni", "-o", "name"]).await;
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["nodeimage.apps.kruise.io/n1", "nodeimage.apps.kruise.io/n2"]
    );
    let label = server
        .kubectl(&["get", "ni", "n1", "-o", "jsonpath={.metadata.labels.step}"])
        .await;
    assert_eq!(label, "before-restart");
    server
        .kubectl(&["label", "ni", "n2", "step=after-restart"])
        .await;
    server.kubectl(&["delete", "ni", "n1"]).await;

    // A client that saw `last_seen` before the restart resumes its watch from there.
    let raw = server
        .kubectl(&[
            "get",
            "--raw",
            &format!(
                "/apis/apps.kruise.io/v1alpha1/nodeimages?watch=true&resourceVersion={last_seen}&timeoutSeconds=3"
            ),
        ])
        .await;
    let events: Vec<(String, String, String)> = raw
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            (
                event["type"].as_str().unwrap().to_string(),
                event["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                event["object"]["metadata"]["labels"]["step"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let expected = [
        ("MODIFIED", "n1", "before-restart"),
        ("MODIFIED", "n2", "after-restart"),
        ("DELETED", "n1", "before-restart"),
    ];
    assert_eq!(
        events,
        expected.map(|(t, n, s)| (t.to_string(), n.to_string(), s.to_string())),
        "{raw}"
    );
}

pub async fn health_and_metrics_report_the_storage(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], JOB).await;
    let ready = server.kubectl(&["get", "--raw", "/readyz?verbose"]).await;
    assert!(ready.contains("[+]storage ok"), "{ready}");
    let metrics = server.kubectl(&["get", "--raw", "/metrics"]).await;
    assert!(
        metrics.contains("prepull_storage_request_duration_seconds"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("apiserver_request_total{verb=\"POST\"")
                && l.contains("resource=\"imagepulljobs\"")
                && l.contains("code=\"201\"")),
        "{metrics}"
    );
}
