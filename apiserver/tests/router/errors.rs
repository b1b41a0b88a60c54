//! Every error path a client can hit, with the Kubernetes status, reason and message text.

use axum::http::{Method, header};
use prepull_apiserver::auth::UserInfo;
use prepull_apiserver::registry::FeatureGates;
use serde_json::json;

use crate::support::{JOBS, NODES, Server, job, node, request};

#[tokio::test]
async fn a_malformed_body_is_400() {
    let server = Server::start();
    let answer = server
        .send(request(
            Method::POST,
            JOBS,
            Some("application/json"),
            "{\"apiVersion\":",
        ))
        .await;
    answer.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn an_unknown_field_under_strict_validation_is_400_naming_its_path() {
    let server = Server::start();
    let mut body = job("strict");
    body["spec"]["foo"] = json!(1);
    let answer = server
        .send(request(
            Method::POST,
            &format!("{JOBS}?fieldValidation=Strict"),
            Some("application/json"),
            &body.to_string(),
        ))
        .await;
    let status = answer.expect_status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "strict decoding error: unknown field \"spec.foo\""
    );
}

#[tokio::test]
async fn an_unknown_field_without_field_validation_is_a_warning() {
    let server = Server::start();
    let mut body = job("warned");
    body["spec"]["foo"] = json!(1);
    let answer = server.post_json(JOBS, &body).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text());
    assert_eq!(
        answer.headers.get(header::WARNING).unwrap(),
        r#"299 - "unknown field \"spec.foo\"""#
    );
    assert!(answer.json()["spec"].get("foo").is_none());
}

#[tokio::test]
async fn a_malformed_query_parameter_is_400() {
    let server = Server::start();
    let answer = server.get(&format!("{JOBS}?limit=many")).await;
    let status = answer.expect_status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "strconv.ParseInt: parsing \"many\": invalid syntax"
    );
    let answer = server
        .get(&format!("{JOBS}?fieldSelector=spec.image%3Dnginx"))
        .await;
    answer.expect_status(400, "BadRequest");
}

#[tokio::test]
async fn a_user_without_permission_gets_403_in_kube_apiserver_words() {
    let server = Server::start();
    let alice = UserInfo::authenticated("alice".into(), vec![]);
    let answer = server
        .send_as(alice, request(Method::GET, &format!("{JOBS}/x"), None, ""))
        .await;
    let status = answer.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        r#"User "alice" cannot get resource "imagepulljobs" in API group "apps.kruise.io" in the namespace "default""#
    );
}

#[tokio::test]
async fn an_anonymous_request_is_403() {
    let server = Server::start();
    let answer = server
        .send_as(UserInfo::anonymous(), request(Method::GET, NODES, None, ""))
        .await;
    let status = answer.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        r#"User "system:anonymous" cannot list resource "nodeimages" in API group "apps.kruise.io" at the cluster scope"#
    );
}

#[tokio::test]
async fn jobs_cannot_be_written_with_the_feature_gate_off() {
    let server = Server::with_feature_gates(FeatureGates {
        image_pull_job_gate: false,
    });
    let answer = server.post_json(JOBS, &job("gated")).await;
    let status = answer.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        "feature-gate ImagePullJobGate is not enabled"
    );
    // NodeImages are not gated.
    assert_eq!(
        server.post_json(NODES, &node("n1")).await.status.as_u16(),
        201
    );
}

#[tokio::test]
async fn a_missing_object_is_404() {
    let server = Server::start();
    let status = server
        .get(&format!("{JOBS}/absent"))
        .await
        .expect_status(404, "NotFound");
    assert_eq!(
        status["message"],
        r#"imagepulljobs.apps.kruise.io "absent" not found"#
    );
    assert_eq!(
        status["details"],
        json!({"name": "absent", "group": "apps.kruise.io", "kind": "imagepulljobs"})
    );
}

#[tokio::test]
async fn paths_that_name_nothing_we_serve_are_404() {
    let server = Server::start();
    for path in [
        "/apis/apps.kruise.io/v1/namespaces/default/imagepulljobs",
        "/apis/apps.kruise.io/v1alpha1/namespaces/default/clonesets",
        "/apis/apps/v1/namespaces/default/deployments",
        "/apis/apps.kruise.io/v1alpha1/namespaces/default/imagepulljobs/x/scale",
        "/apis/apps.kruise.io/v1alpha1/namespaces/default/nodeimages/n1",
        "/apis/apps.kruise.io/v1alpha1/imagepulljobs/x",
        "/nothing/here",
    ] {
        let status = server.get(path).await.expect_status(404, "NotFound");
        assert_eq!(
            status["message"], "the server could not find the requested resource",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_serve_is_405() {
    let server = Server::start();
    for (method, path) in [
        (Method::POST, format!("{JOBS}/x")),
        (Method::DELETE, format!("{JOBS}/x/status")),
        (Method::POST, format!("{JOBS}/x/status")),
        (Method::PUT, JOBS.to_string()),
        (Method::PATCH, JOBS.to_string()),
        (
            Method::POST,
            "/apis/apps.kruise.io/v1alpha1/imagepulljobs".to_string(),
        ),
    ] {
        let answer = server
            .send(request(
                method.clone(),
                &path,
                Some("application/json"),
                "{}",
            ))
            .await;
        let status = answer.expect_status(405, "MethodNotAllowed");
        assert_eq!(
            status["message"], "the server does not allow this method on the requested resource",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_representation_we_cannot_produce_is_406() {
    let server = Server::start();
    let answer = server
        .send(
            axum::http::Request::builder()
                .uri(NODES)
                .header(header::ACCEPT, "application/vnd.kubernetes.protobuf")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let status = answer.expect_status(406, "NotAcceptable");
    assert_eq!(
        status["message"],
        "only the following media types are accepted: application/json, application/yaml"
    );
    // A list cannot be served as one object's metadata.
    let answer = server
        .send(
            axum::http::Request::builder()
                .uri(NODES)
                .header(
                    header::ACCEPT,
                    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    answer.expect_status(406, "NotAcceptable");
}

#[tokio::test]
async fn creating_an_existing_object_is_409_already_exists() {
    let server = Server::start();
    assert_eq!(
        server.post_json(JOBS, &job("twice")).await.status.as_u16(),
        201
    );
    let status = server
        .post_json(JOBS, &job("twice"))
        .await
        .expect_status(409, "AlreadyExists");
    assert_eq!(
        status["message"],
        r#"imagepulljobs.apps.kruise.io "twice" already exists"#
    );
}

#[tokio::test]
async fn a_stale_update_is_409_conflict() {
    let server = Server::start();
    let created = server.post_json(JOBS, &job("stale")).await.json();
    let mut first = created.clone();
    first["spec"]["parallelism"] = json!(2);
    let put = |body: serde_json::Value| {
        request(
            Method::PUT,
            &format!("{JOBS}/stale"),
            Some("application/json"),
            &body.to_string(),
        )
    };
    assert_eq!(server.send(put(first)).await.status.as_u16(), 200);
    let mut second = created;
    second["spec"]["parallelism"] = json!(3);
    let status = server
        .send(put(second))
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on imagepulljobs.apps.kruise.io \"stale\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn reading_compacted_history_is_410_expired() {
    let server = Server::start();
    for i in 0..3 {
        server.post_json(NODES, &node(&format!("n{i}"))).await;
    }
    let current = server.get(NODES).await.json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    server.store.compact(current).await.unwrap();
    let status = server
        .get(&format!(
            "{NODES}?resourceVersion=1&resourceVersionMatch=Exact"
        ))
        .await
        .expect_status(410, "Expired");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: 1 ("),
        "{status}"
    );
    // A watch from there starts, then ends with an ERROR event carrying the 410.
    let answer = server
        .get(&format!("{NODES}?watch=true&resourceVersion=1"))
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    let event: serde_json::Value =
        serde_json::from_str(answer.text().lines().last().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

#[tokio::test]
async fn a_body_over_three_mebibytes_is_413() {
    let server = Server::start();
    let mut body = node("big");
    body["metadata"]["annotations"] = json!({"filler": "x".repeat(3 * 1024 * 1024)});
    let status = server
        .post_json(NODES, &body)
        .await
        .expect_status(413, "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 3145728"
    );
}

#[tokio::test]
async fn unsupported_content_types_are_415() {
    let server = Server::start();
    let status = server
        .send(request(Method::POST, NODES, Some("text/plain"), "name: n1"))
        .await
        .expect_status(415, "UnsupportedMediaType");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
    );
    server.post_json(NODES, &node("n1")).await;
    let status = server
        .send(request(
            Method::PATCH,
            &format!("{NODES}/n1"),
            Some("text/plain"),
            "{}",
        ))
        .await
        .expect_status(415, "UnsupportedMediaType");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
}

#[tokio::test]
async fn an_apply_patch_creates_and_a_conflicting_one_is_409_naming_field_and_manager() {
    let server = Server::start();
    let apply = |manager: &str, parallelism: u32| {
        request(
            Method::PATCH,
            &format!("{JOBS}/pull?fieldManager={manager}"),
            Some("application/apply-patch+yaml"),
            &format!(
                "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: pull\nspec:\n  image: nginx\n  parallelism: {parallelism}\n"
            ),
        )
    };
    let created = server.send(apply("alice", 2)).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text());
    assert_eq!(
        created.json()["metadata"]["managedFields"][0]["operation"],
        "Apply"
    );
    let status = server
        .send(apply("bob", 3))
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.parallelism"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{
            "reason": "FieldManagerConflict",
            "message": "conflict with \"alice\"",
            "field": ".spec.parallelism"
        }])
    );
}

#[tokio::test]
async fn an_invalid_object_is_422_with_every_field_error() {
    let server = Server::start();
    let mut body = job("bad");
    body["spec"]["image"] = json!("");
    body["spec"]["parallelism"] = json!(-1);
    let status = server
        .post_json(JOBS, &body)
        .await
        .expect_status(422, "Invalid");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("ImagePullJob.apps.kruise.io \"bad\" is invalid: ["),
        "{message}"
    );
    let fields: Vec<&str> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"spec.image"), "{fields:?}");
    assert!(fields.contains(&"spec.parallelism"), "{fields:?}");
    assert_eq!(status["details"]["kind"], "ImagePullJob");
}

#[tokio::test]
async fn an_update_without_resource_version_is_422() {
    let server = Server::start();
    server.post_json(NODES, &node("n1")).await;
    let status = server
        .send(request(
            Method::PUT,
            &format!("{NODES}/n1"),
            Some("application/json"),
            &node("n1").to_string(),
        ))
        .await
        .expect_status(422, "Invalid");
    assert!(
        status["message"].as_str().unwrap().ends_with(
            "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        ),
        "{status}"
    );
}

#[tokio::test]
async fn unsupported_option_values_are_422_on_the_options_kind() {
    let server = Server::start();
    let status = server
        .send(request(
            Method::POST,
            &format!("{NODES}?dryRun=Partly"),
            Some("application/json"),
            &node("n1").to_string(),
        ))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Partly\"}: supported values: \"All\""
    );
    let status = server
        .get(&format!("{NODES}?resourceVersionMatch=Exact"))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
}

#[tokio::test]
async fn a_node_creates_its_own_nodeimage_but_not_another_nodes() {
    let server = Server::start();
    let n1 = UserInfo::authenticated("system:node:n1".into(), vec!["system:nodes".into()]);
    let post = |name: &str| request(Method::POST, NODES, None, &node(name).to_string());

    let own = server.send_as(n1.clone(), post("n1")).await;
    assert_eq!(own.status.as_u16(), 201, "{}", own.text());
    assert_eq!(own.json()["metadata"]["name"], "n1");

    let status = server
        .send_as(n1, post("n2"))
        .await
        .expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        r#"nodeimages.apps.kruise.io "n2" is forbidden: node "n1" may only create its own NodeImage"#
    );
    assert_eq!(status["details"]["name"], "n2");
    // Nothing was stored for n2.
    server
        .get(&format!("{NODES}/n2"))
        .await
        .expect_status(404, "NotFound");
}
