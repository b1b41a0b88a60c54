//! Router-level tests of the discovery endpoints.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// What kubectl 1.32 sends.
const CLIENT_GO_1_32: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn send(method: Method, path: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = routes::<()>()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Reply {
        status,
        headers,
        body: body.to_vec(),
    }
}

async fn get(path: &str, accept: &str) -> Reply {
    send(Method::GET, path, &[(header::ACCEPT, accept)]).await
}

#[tokio::test]
async fn apis_without_an_aggregated_accept_is_the_legacy_group_list() {
    let reply = get("/apis", "application/json, */*").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
    let body = reply.json();
    assert_eq!(body["kind"], "APIGroupList");
    assert_eq!(body["groups"][0]["name"], "apps.kruise.io");
    assert_eq!(body["groups"][0]["preferredVersion"]["version"], "v1alpha1");
}

#[tokio::test]
async fn kubectl_gets_aggregated_v2_discovery_with_the_negotiated_content_type() {
    let reply = get("/apis", CLIENT_GO_1_32).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), V2);
    assert_eq!(reply.header(header::VARY), "Accept");
    let body = reply.json();
    assert_eq!(body["kind"], "APIGroupDiscoveryList");
    assert_eq!(body["apiVersion"], "apidiscovery.k8s.io/v2");
    let job = &body["items"][0]["versions"][0]["resources"][0];
    assert_eq!(job["resource"], "imagepulljobs");
    assert_eq!(
        job["responseKind"],
        json!({"group": "apps.kruise.io", "version": "v1alpha1", "kind": "ImagePullJob"})
    );
    assert_eq!(job["shortNames"], json!(["ipj"]));
    assert_eq!(job["subresources"][0]["subresource"], "status");
}

#[tokio::test]
async fn newer_clients_asking_for_the_no_peer_profile_get_v2() {
    let reply = get(
        "/apis",
        &format!("{V2};profile=nopeer,{V2},application/json"),
    )
    .await;
    assert_eq!(reply.header(header::CONTENT_TYPE), V2);
}

#[tokio::test]
async fn a_client_preferring_v2beta1_gets_v2beta1() {
    let reply = get(
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json;q=0.5",
    )
    .await;
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    );
    assert_eq!(reply.json()["apiVersion"], "apidiscovery.k8s.io/v2beta1");
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_and_a_stale_one_the_document() {
    let first = get("/apis", V2).await;
    let etag = first.header(header::ETAG).to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2);
    assert_eq!(first.header(header::CACHE_CONTROL), "public");

    let revalidated = send(
        Method::GET,
        "/apis",
        &[(header::ACCEPT, V2), (header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header(header::ETAG), etag);

    let stale = send(
        Method::GET,
        "/apis",
        &[(header::ACCEPT, V2), (header::IF_NONE_MATCH, "\"0\"")],
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, first.body);

    let legacy = get("/apis", "application/json").await;
    assert_ne!(legacy.header(header::ETAG), etag);
}

#[tokio::test]
async fn api_has_no_core_versions_in_either_form() {
    let legacy = get("/api", "application/json").await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert_eq!(legacy.json()["kind"], "APIVersions");
    assert_eq!(legacy.json()["versions"], json!([]));

    let aggregated = get("/api", CLIENT_GO_1_32).await;
    assert_eq!(aggregated.header(header::CONTENT_TYPE), V2);
    assert_eq!(aggregated.json()["items"], json!([]));
}

#[tokio::test]
async fn the_group_and_each_version_list_their_resources() {
    let group = get("/apis/apps.kruise.io", "application/json").await;
    assert_eq!(group.json()["kind"], "APIGroup");

    for version in ["v1alpha1", "v1beta1"] {
        let list = get(&format!("/apis/apps.kruise.io/{version}"), "").await;
        assert_eq!(list.status, StatusCode::OK, "{version}");
        let body = list.json();
        assert_eq!(body["kind"], "APIResourceList");
        assert_eq!(body["groupVersion"], format!("apps.kruise.io/{version}"));
        let job = &body["resources"][0];
        assert_eq!(job["verbs"], json!(RESOURCE_VERBS));
        assert_eq!(job["singularName"], "imagepulljob");
        assert_eq!(
            job["storageVersionHash"],
            legacy::storage_version_hash(prepull_api::Kind::ImagePullJob)
        );
    }
}

#[tokio::test]
async fn an_unserved_version_is_404_as_a_status() {
    let reply = get("/apis/apps.kruise.io/v2", "application/json").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["kind"], "Status");
}

#[tokio::test]
async fn only_unacceptable_media_types_get_406() {
    let reply = get("/apis", "application/vnd.kubernetes.protobuf").await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(reply.json()["reason"], "NotAcceptable");

    // Aggregated discovery is only served on /api and /apis.
    let reply = get("/apis/apps.kruise.io/v1alpha1", V2).await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);

    let reply = get("/apis", "application/vnd.kubernetes.protobuf, */*;q=0.1").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn methods_other_than_get_are_refused_with_a_status() {
    let reply = send(Method::POST, "/apis", &[]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.json()["reason"], "MethodNotAllowed");
    let head = send(Method::HEAD, "/apis", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
}
