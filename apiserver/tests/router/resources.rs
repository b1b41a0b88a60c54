//! Successful reads and writes: status codes, list shape, versions, representations.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::json;

use crate::support::{JOBS, NODES, Server, job, node, request};

fn accepting(uri: &str, accept: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn create_answers_201_with_server_set_metadata_and_defaults() {
    let server = Server::start();
    let answer = server.post_json(JOBS, &job("a")).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text());
    let created = answer.json();
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["resourceVersion"].is_string());
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["apiVersion"], "apps.kruise.io/v1alpha1");
    assert_eq!(
        answer.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn an_empty_list_has_items_and_a_resource_version() {
    let server = Server::start();
    let list = server.get(JOBS).await.json();
    assert_eq!(list["kind"], "ImagePullJobList");
    assert_eq!(list["apiVersion"], "apps.kruise.io/v1alpha1");
    assert_eq!(list["items"], json!([]));
    assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
}

#[tokio::test]
async fn objects_are_presented_in_the_version_of_the_url() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let beta = server
        .get("/apis/apps.kruise.io/v1beta1/nodeimages/n1")
        .await
        .json();
    assert_eq!(beta["apiVersion"], "apps.kruise.io/v1beta1");
    let list = server
        .get("/apis/apps.kruise.io/v1beta1/nodeimages")
        .await
        .json();
    assert_eq!(list["apiVersion"], "apps.kruise.io/v1beta1");
    assert_eq!(list["items"][0]["apiVersion"], "apps.kruise.io/v1beta1");
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let server = Server::start();
    for i in 0..5 {
        server.post_json(NODES, &node(&format!("n{i}"))).await;
    }
    let first = server.get(&format!("{NODES}?limit=2")).await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let second = server
        .get(&format!("{NODES}?limit=10&continue={token}"))
        .await
        .json();
    let names: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n2", "n3", "n4"]);
    assert!(second["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let server = Server::start();
    server.post_json(JOBS, &job("web")).await;
    let mut other = job("db");
    other["metadata"]["labels"] = json!({"app": "db"});
    server.post_json(JOBS, &other).await;
    let list = server
        .get(&format!("{JOBS}?labelSelector=app%3Ddb"))
        .await
        .json();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db"]);
}

#[tokio::test]
async fn kubectl_get_receives_a_table_with_the_documented_columns() {
    let server = Server::start();
    server.post_json(JOBS, &job("a")).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let table = server.send(accepting(JOBS, accept)).await.json();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["priority"] == 0)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Name", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE", "MESSAGE"
        ]
    );
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "a");
    assert!(row["cells"][5].as_str().unwrap().ends_with('s'), "{row}");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    let one = server
        .send(accepting(&format!("{JOBS}/a?includeObject=Object"), accept))
        .await
        .json();
    assert_eq!(one["rows"][0]["object"]["kind"], "ImagePullJob");
}

#[tokio::test]
async fn metadata_clients_get_partial_object_metadata() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let list = server
        .send(accepting(
            NODES,
            "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        ))
        .await
        .json();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["name"], "n1");
    assert!(list["items"][0].get("spec").is_none());
    let one = server
        .send(accepting(
            &format!("{NODES}/n1"),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1",
        ))
        .await
        .json();
    assert_eq!(one["apiVersion"], "meta.k8s.io/v1beta1");
}

#[tokio::test]
async fn yaml_goes_in_and_comes_out() {
    let server = Server::start();
    let answer = server
        .send(request(
            Method::POST,
            NODES,
            Some("application/yaml"),
            "apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\nmetadata:\n  name: from-yaml\n",
        ))
        .await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text());
    let yaml = server
        .send(accepting(&format!("{NODES}/from-yaml"), "application/yaml"))
        .await;
    assert_eq!(
        yaml.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/yaml"
    );
    assert!(yaml.text().contains("name: from-yaml"), "{}", yaml.text());
}

#[tokio::test]
async fn patches_update_and_status_changes_only_status() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let merge = json!({"spec":{"images":{"ubuntu":{"tags":[{"tag":"latest","pullPolicy":{"ttlSecondsAfterFinished":300}}]}}}});
    let answer = server
        .send(request(
            Method::PATCH,
            &format!("{NODES}/n1"),
            Some("application/merge-patch+json"),
            &merge.to_string(),
        ))
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    assert_eq!(
        answer.json()["spec"]["images"]["ubuntu"]["tags"][0]["tag"],
        "latest"
    );
    let json_patch = json!([{"op": "add", "path": "/metadata/labels", "value": {"zone": "a"}}]);
    let answer = server
        .send(request(
            Method::PATCH,
            &format!("{NODES}/n1"),
            Some("application/json-patch+json"),
            &json_patch.to_string(),
        ))
        .await;
    assert_eq!(answer.json()["metadata"]["labels"]["zone"], "a");
    let status_patch = json!({"status": {"desired": 1}, "metadata": {"labels": {"zone": "b"}}});
    let answer = server
        .send(request(
            Method::PATCH,
            &format!("{NODES}/n1/status"),
            Some("application/merge-patch+json"),
            &status_patch.to_string(),
        ))
        .await;
    let patched = answer.json();
    assert_eq!(patched["status"]["desired"], 1, "{patched}");
    assert_eq!(patched["metadata"]["labels"]["zone"], "a");
}

#[tokio::test]
async fn dry_run_create_stores_nothing() {
    let server = Server::start();
    let answer = server
        .send(request(
            Method::POST,
            &format!("{NODES}?dryRun=All"),
            Some("application/json"),
            &node("ghost").to_string(),
        ))
        .await;
    assert_eq!(answer.status.as_u16(), 201);
    server
        .get(&format!("{NODES}/ghost"))
        .await
        .expect_status(404, "NotFound");
}

#[tokio::test]
async fn delete_answers_a_success_status_and_finalizers_keep_the_object() {
    let server = Server::start();
    let created = server.post_json(NODES, &node("gone")).await.json();
    let answer = server
        .send(request(Method::DELETE, &format!("{NODES}/gone"), None, ""))
        .await;
    let status = answer.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Success");
    assert_eq!(status["details"]["name"], "gone");
    assert_eq!(status["details"]["uid"], created["metadata"]["uid"]);

    let mut kept = node("kept");
    kept["metadata"]["finalizers"] = json!(["example.com/hold"]);
    server.post_json(NODES, &kept).await;
    let marked = server
        .send(request(Method::DELETE, &format!("{NODES}/kept"), None, ""))
        .await
        .json();
    assert_eq!(marked["kind"], "NodeImage");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let server = Server::start();
    server.post_json(NODES, &node("pre")).await;
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "not-the-uid"}});
    let answer = server
        .send(request(
            Method::DELETE,
            &format!("{NODES}/pre"),
            Some("application/json"),
            &options.to_string(),
        ))
        .await;
    answer.expect_status(409, "Conflict");
}

#[tokio::test]
async fn deletecollection_deletes_what_the_selector_selects() {
    let server = Server::start();
    server.post_json(JOBS, &job("web")).await;
    let mut other = job("db");
    other["metadata"]["labels"] = json!({"app": "db"});
    server.post_json(JOBS, &other).await;
    let deleted = server
        .send(request(
            Method::DELETE,
            &format!("{JOBS}?labelSelector=app%3Dweb"),
            None,
            "",
        ))
        .await
        .json();
    assert_eq!(deleted["kind"], "ImagePullJobList");
    assert_eq!(deleted["items"][0]["metadata"]["name"], "web");
    let left = server.get(JOBS).await.json();
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
    assert_eq!(left["items"][0]["metadata"]["name"], "db");
}
