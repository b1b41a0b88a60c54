//! Strategic merge patch through kubectl: `kubectl patch` (whose default type it is) and
//! client-side `kubectl apply`, which sends strategic patches once OpenAPI advertises them.

use serde_json::Value;

use crate::support::TestServer;

/// A NodeImage pulling nginx with the given tags (each with a TTL).
fn node_image(tags: &[(&str, u32)]) -> String {
    let mut yaml = String::from(
        "apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: node-a\nspec:\n  images:\n    nginx:\n      tags:\n",
    );
    for (tag, ttl) in tags {
        yaml.push_str(&format!(
            "      - tag: \"{tag}\"\n        pullPolicy:\n          ttlSecondsAfterFinished: {ttl}\n"
        ));
    }
    yaml
}

/// The NodeImage's nginx tags and their TTLs.
async fn tags(server: &TestServer) -> Vec<(String, u64)> {
    let json = server
        .kubectl(&["get", "nodeimage", "node-a", "-o", "json"])
        .await;
    let object: Value = serde_json::from_str(&json).expect("kubectl prints JSON");
    object["spec"]["images"]["nginx"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap_or_default().to_owned(),
                t["pullPolicy"]["ttlSecondsAfterFinished"]
                    .as_u64()
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn tag(name: &str, ttl: u64) -> (String, u64) {
    (name.to_owned(), ttl)
}

pub async fn a_strategic_patch_adds_one_tag_and_patch_delete_removes_one(server: TestServer) {
    server
        .kubectl_stdin(&["create", "-f", "-"], &node_image(&[("1.25", 60)]))
        .await;
    let out = server
        .kubectl(&[
            "patch",
            "nodeimage",
            "node-a",
            "-p",
            r#"{"spec":{"images":{"nginx":{"tags":[{"tag":"1.27","pullPolicy":{"ttlSecondsAfterFinished":90}}]}}}}"#,
        ])
        .await;
    assert!(out.contains("patched"), "{out}");
    assert_eq!(tags(&server).await, [tag("1.25", 60), tag("1.27", 90)]);
    server
        .kubectl(&[
            "patch",
            "nodeimage",
            "node-a",
            "--type=strategic",
            "-p",
            r#"{"spec":{"images":{"nginx":{"tags":[{"tag":"1.25","$patch":"delete"}]}}}}"#,
        ])
        .await;
    assert_eq!(tags(&server).await, [tag("1.27", 90)]);
}

/// A job whose owner references (a list keyed by `uid`) and finalizers (a set) come from the
/// manifest.
fn owned_job(owner_name: &str, finalizer: &str) -> String {
    format!(
        "apiVersion: apps.kruise.io/v1alpha1
kind: ImagePullJob
metadata:
  name: job-owned
  namespace: default
  finalizers: [example.com/keep, {finalizer}]
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: {owner_name}
    uid: 11111111-1111-1111-1111-111111111111
spec:
  image: nginx:1.25
"
    )
}

pub async fn client_side_apply_of_a_changed_list_merges_by_key(server: TestServer) {
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &owned_job("first", "example.com/old"),
        )
        .await;
    // Another client adds an owner and a finalizer the manifest does not know about.
    server
        .kubectl(&[
            "patch",
            "ipj",
            "job-owned",
            "-n",
            "default",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/other"],"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"second","uid":"22222222-2222-2222-2222-222222222222"}]}}"#,
        ])
        .await;
    // The manifest renames its owner and swaps a finalizer: the strategic patch kubectl sends
    // merges the owner by uid and the finalizers as a set, keeping the other client's (a
    // merge patch would replace both lists).
    let out = server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &owned_job("renamed", "example.com/new"),
        )
        .await;
    assert!(out.contains("configured"), "{out}");
    let json = server
        .kubectl(&["get", "ipj", "job-owned", "-n", "default", "-o", "json"])
        .await;
    let object: Value = serde_json::from_str(&json).expect("kubectl prints JSON");
    let owners: Vec<&str> = object["metadata"]["ownerReferences"]
        .as_array()
        .expect("owners")
        .iter()
        .map(|o| o["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(owners, ["renamed", "second"]);
    assert_eq!(
        object["metadata"]["finalizers"],
        serde_json::json!(["example.com/keep", "example.com/new", "example.com/other"])
    );
}
