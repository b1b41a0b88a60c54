//! Hostile requests are refused cheaply and clearly: a node writing its NodeImage's spec, a
//! JSON patch whose copies amplify the object, requests past the in-flight cap, bodies nested
//! past any sane depth.

use axum::body::Body;
use axum::http::{Method, Request};
use prepull_apiserver::auth::UserInfo;
use prepull_apiserver::http::inflight::InFlight;
use serde_json::{Value, json};

use crate::support::{JOBS, NODES, Server, job, node, request};

fn node_user(name: &str) -> UserInfo {
    UserInfo::authenticated(format!("system:node:{name}"), vec!["system:nodes".into()])
}

fn merge_patch(uri: &str, body: &Value) -> Request<Body> {
    request(
        Method::PATCH,
        uri,
        Some("application/merge-patch+json"),
        &body.to_string(),
    )
}

#[tokio::test]
async fn a_node_may_patch_its_status_and_labels_but_its_spec_is_403() {
    let server = Server::start();
    let n1 = node_user("n1");
    let created = server
        .send_as(
            n1.clone(),
            request(Method::POST, NODES, None, &node("n1").to_string()),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text());
    let own = format!("{NODES}/n1");

    let labels = json!({"metadata": {"labels": {"zone": "a"}}});
    let relabeled = server.send_as(n1.clone(), merge_patch(&own, &labels)).await;
    assert_eq!(relabeled.status.as_u16(), 200, "{}", relabeled.text());
    let status = json!({"status": {"desired": 0}});
    let reported = server
        .send_as(n1.clone(), merge_patch(&format!("{own}/status"), &status))
        .await;
    assert_eq!(reported.status.as_u16(), 200, "{}", reported.text());

    let secrets = json!({"spec": {"images": {"r.example/app": {
        "pullSecrets": [{"namespace": "kube-system", "name": "regcred"}],
        "tags": [{"tag": "1", "version": 1, "pullPolicy": {"ttlSecondsAfterFinished": 300}}],
    }}}});
    let refused = server
        .send_as(n1.clone(), merge_patch(&own, &secrets))
        .await
        .expect_status(403, "Forbidden");
    assert_eq!(
        refused["message"],
        r#"nodeimages.apps.kruise.io "n1" is forbidden: node "n1" may not modify spec of its NodeImage; only its status and labels"#
    );
    let mut put = server.get(&own).await.json();
    put["spec"] = secrets["spec"].clone();
    server
        .send_as(n1, request(Method::PUT, &own, None, &put.to_string()))
        .await
        .expect_status(403, "Forbidden");
    let stored = server.get(&own).await.json();
    assert!(
        stored["spec"].get("images").is_none(),
        "nothing of it was stored: {stored}"
    );
}

#[tokio::test]
async fn a_json_patch_whose_copies_amplify_the_object_is_413_with_a_short_message() {
    let server = Server::start();
    let mut object = job("amp");
    object["metadata"]["annotations"] = json!({"seed": "x".repeat(4096)});
    server.post_json(JOBS, &object).await;
    let doubling: Vec<Value> = (0..18)
        .map(|i| {
            json!({"op": "copy", "from": "/metadata/annotations",
                   "path": format!("/metadata/annotations/c{i}")})
        })
        .collect();
    let answer = server
        .send(request(
            Method::PATCH,
            &format!("{JOBS}/amp"),
            Some("application/json-patch+json"),
            &Value::Array(doubling).to_string(),
        ))
        .await;
    assert!(
        answer.body.len() < 8192,
        "the refusal is short: {} bytes",
        answer.body.len()
    );
    let status = answer.expect_status(413, "RequestEntityTooLarge");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("the patched object would exceed"),
        "{status}"
    );
}

#[tokio::test]
async fn past_the_in_flight_cap_a_request_is_429_with_retry_after() {
    let server = Server::start_with(|state| state.in_flight = InFlight::new(1, 1));
    // A node (not an administrator) may POST NodeImages; one whose body never arrives holds
    // the one mutating seat.
    let n1 = node_user("n1");
    let never = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let mut stuck = Request::builder()
        .method(Method::POST)
        .uri(NODES)
        .header("content-type", "application/json")
        .body(Body::from_stream(never))
        .unwrap();
    stuck.extensions_mut().insert(n1.clone());
    let router = server.router.clone();
    let held = tokio::spawn(tower::ServiceExt::oneshot(router, stuck));
    // On this single-threaded runtime the held request runs up to its body read (pending)
    // at the first yields.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut refused = None;
    for _ in 0..200 {
        let answer = server
            .send_as(
                n1.clone(),
                request(Method::POST, NODES, None, &node("n1").to_string()),
            )
            .await;
        if answer.status.as_u16() == 429 {
            refused = Some(answer);
            break;
        }
        tokio::task::yield_now().await;
    }
    if refused.is_none() && held.is_finished() {
        panic!("the held request ended: {:?}", held.await);
    }
    let refused = refused.expect("a second write is refused while the first holds the seat");
    assert_eq!(refused.headers["retry-after"], "1");
    let status = refused.expect_status(429, "TooManyRequests");
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
    // Reads have their own budget; an administrator is never counted.
    let read = server
        .send_as(n1, request(Method::GET, &format!("{NODES}/n1"), None, ""))
        .await;
    assert_ne!(read.status.as_u16(), 429);
    let admin = server.post_json(JOBS, &job("by-admin")).await;
    assert_eq!(admin.status.as_u16(), 201, "{}", admin.text());
    held.abort();
}

#[tokio::test]
async fn a_body_nested_past_the_decoder_depth_is_400() {
    let server = Server::start();
    let mut object = job("deep");
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    object["metadata"]["annotations"] = json!({"x": "y"});
    let text = object
        .to_string()
        .replace(r#"{"x":"y"}"#, &format!(r#"{{"x":{deep}}}"#));
    let status = server
        .send(request(Method::POST, JOBS, None, &text))
        .await
        .expect_status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{status}"
    );
}
