//! Watches: event lines, starting points, bookmarks, watch-list, Table and metadata watches,
//! and how a watch ends.

use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::{NODES, Server, node, request};

async fn rename_label(server: &Server, name: &str, value: &str) -> Value {
    let patch = json!({"metadata": {"labels": {"zone": value}}});
    server
        .send(request(
            Method::PATCH,
            &format!("{NODES}/{name}"),
            Some("application/merge-patch+json"),
            &patch.to_string(),
        ))
        .await
        .json()
}

#[tokio::test]
async fn a_watch_starts_with_the_current_objects_then_streams_changes() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let mut watch = server.watch(&format!("{NODES}?watch=true"), None).await;
    assert_eq!(watch.status.as_u16(), 200);
    let added = watch.next_event().await.unwrap();
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["metadata"]["name"], "n1");
    let patched = rename_label(&server, "n1", "a").await;
    let modified = watch.next_event().await.unwrap();
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(
        modified["object"]["metadata"]["resourceVersion"],
        patched["metadata"]["resourceVersion"]
    );
    server
        .send(request(Method::DELETE, &format!("{NODES}/n1"), None, ""))
        .await;
    assert_eq!(watch.next_event().await.unwrap()["type"], "DELETED");
}

#[tokio::test]
async fn a_watch_from_a_resource_version_misses_no_later_event() {
    let server = Server::start();
    let created = server.post_json(NODES, &node("n1")).await.json();
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    rename_label(&server, "n1", "a").await;
    rename_label(&server, "n1", "b").await;
    let mut watch = server
        .watch(&format!("{NODES}?watch=true&resourceVersion={rv}"), None)
        .await;
    for zone in ["a", "b"] {
        let event = watch.next_event().await.unwrap();
        assert_eq!(event["type"], "MODIFIED");
        assert_eq!(event["object"]["metadata"]["labels"]["zone"], zone);
    }
}

#[tokio::test]
async fn bookmarks_arrive_when_allowed() {
    let server = Server::start_with(|state| {
        state.requests.bookmark_interval = Duration::from_millis(100);
    });
    let created = server.post_json(NODES, &node("n1")).await.json();
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watch = server
        .watch(
            &format!("{NODES}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}"),
            None,
        )
        .await;
    let bookmark = watch.next_event().await.unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "NodeImage");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        rv.as_str()
    );
}

#[tokio::test]
async fn a_watch_list_ends_its_initial_events_with_an_annotated_bookmark() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    server.post_json(NODES, &node("n2")).await;
    let mut watch = server
        .watch(
            &format!(
                "{NODES}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
            ),
            None,
        )
        .await;
    let mut names = Vec::new();
    loop {
        let event = watch.next_event().await.unwrap();
        if event["type"] == "BOOKMARK" {
            assert_eq!(
                event["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
                "true"
            );
            break;
        }
        assert_eq!(event["type"], "ADDED");
        names.push(
            event["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(names, ["n1", "n2"]);
}

#[tokio::test]
async fn a_table_watch_sends_one_row_tables_with_headers_first() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let mut watch = server
        .watch(
            &format!("{NODES}?watch=true"),
            Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        )
        .await;
    let first = watch.next_event().await.unwrap();
    assert_eq!(first["object"]["kind"], "Table");
    assert!(first["object"]["columnDefinitions"].is_array());
    assert_eq!(first["object"]["rows"][0]["cells"][0], "n1");
    rename_label(&server, "n1", "a").await;
    let second = watch.next_event().await.unwrap();
    assert_eq!(second["type"], "MODIFIED");
    assert_eq!(second["object"]["columnDefinitions"], Value::Null);
    assert_eq!(second["object"]["rows"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_metadata_watch_sends_partial_object_metadata() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let mut watch = server
        .watch(
            &format!("{NODES}?watch=true"),
            Some("application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"),
        )
        .await;
    let event = watch.next_event().await.unwrap();
    assert_eq!(event["object"]["kind"], "PartialObjectMetadata");
    assert!(event["object"].get("spec").is_none());
}

#[tokio::test]
async fn a_watch_ends_after_its_timeout() {
    let server = Server::start();
    let mut watch = server
        .watch(&format!("{NODES}?watch=true&timeoutSeconds=1"), None)
        .await;
    let started = tokio::time::Instant::now();
    assert!(watch.next_event().await.is_none());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn shutdown_ends_open_watches_cleanly() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let mut watch = server.watch(&format!("{NODES}?watch=true"), None).await;
    assert_eq!(watch.next_event().await.unwrap()["type"], "ADDED");
    server.state.shutdown.cancel();
    assert!(watch.next_event().await.is_none(), "the stream finishes");
}

#[tokio::test]
async fn a_watch_narrowed_to_one_name_sees_only_that_object() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    server.post_json(NODES, &node("n2")).await;
    let mut watch = server
        .watch(
            &format!("{NODES}?watch=true&fieldSelector=metadata.name%3Dn2"),
            None,
        )
        .await;
    let event = watch.next_event().await.unwrap();
    assert_eq!(event["object"]["metadata"]["name"], "n2");
    rename_label(&server, "n1", "x").await;
    rename_label(&server, "n2", "y").await;
    let event = watch.next_event().await.unwrap();
    assert_eq!(event["object"]["metadata"]["name"], "n2");
    assert_eq!(event["object"]["metadata"]["labels"]["zone"], "y");
    // The deprecated /watch/ path form means the same.
    let mut by_path = server
        .watch("/apis/apps.kruise.io/v1alpha1/watch/nodeimages/n1", None)
        .await;
    assert_eq!(
        by_path.next_event().await.unwrap()["object"]["metadata"]["name"],
        "n1"
    );
}
