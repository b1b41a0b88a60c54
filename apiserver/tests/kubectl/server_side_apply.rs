//! Server-side apply through kubectl: `kubectl apply --server-side` by two field managers,
//! conflicts, `--force-conflicts`, managedFields, and taking over from client-side apply.

use serde_json::Value;

use crate::support::TestServer;

fn job(parallelism: u32) -> String {
    format!(
        "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: job-ssa
  namespace: default
spec:
  image: nginx:1.25
  parallelism: {parallelism}
"
    )
}

async fn job_json(server: &TestServer) -> Value {
    let json = server
        .kubectl(&[
            "get",
            "ipj",
            "job-ssa",
            "-n",
            "default",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await;
    serde_json::from_str(&json).expect("kubectl prints JSON")
}

/// `(manager, operation, fieldsV1 as text)` of every managedFields entry.
fn managers(object: &Value) -> Vec<(String, String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or_default().to_owned(),
                e["operation"].as_str().unwrap_or_default().to_owned(),
                e["fieldsV1"].to_string(),
            )
        })
        .collect()
}

pub async fn two_managers_applying_one_field_conflict_until_one_forces(server: TestServer) {
    let out = server
        .kubectl_stdin(
            &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
            &job(2),
        )
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let err = server
        .kubectl
        .run_with_stdin(
            &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
            Some(&job(4)),
        )
        .await
        .expect_err("bob's apply conflicts");
    let err = format!("{err:#}");
    assert!(
        err.contains(r#"conflict with "alice": .spec.parallelism"#),
        "{err}"
    );
    server
        .kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=bob",
                "--force-conflicts",
                "-f",
                "-",
            ],
            &job(4),
        )
        .await;
    let object = job_json(&server).await;
    assert_eq!(object["spec"]["parallelism"], 4);
    let entries = managers(&object);
    let alice = entries
        .iter()
        .find(|(m, op, _)| m == "alice" && op == "Apply")
        .unwrap_or_else(|| panic!("alice keeps an entry: {entries:?}"));
    assert!(alice.2.contains("f:image"), "{entries:?}");
    assert!(!alice.2.contains("f:parallelism"), "{entries:?}");
    let bob = entries
        .iter()
        .find(|(m, op, _)| m == "bob" && op == "Apply")
        .unwrap_or_else(|| panic!("bob has an entry: {entries:?}"));
    assert!(bob.2.contains("f:parallelism"), "{entries:?}");
}

pub async fn server_side_apply_takes_over_from_client_side_apply(server: TestServer) {
    server.kubectl_stdin(&["apply", "-f", "-"], &job(2)).await;
    // kubectl moves the client-side apply manager's fields to its own before applying, so
    // changing a field it set client-side is no conflict.
    let out = server
        .kubectl_stdin(&["apply", "--server-side", "-f", "-"], &job(3))
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let object = job_json(&server).await;
    assert_eq!(object["spec"]["parallelism"], 3);
    let entries = managers(&object);
    assert!(
        entries
            .iter()
            .any(|(m, op, f)| m == "kubectl" && op == "Apply" && f.contains("f:parallelism")),
        "{entries:?}"
    );
}
