//! Router-level tests of the OpenAPI endpoints.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use prepull_api::group::Kind;
use prepull_api::schema::{definition_name, list_definition_name};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

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

async fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut request = Request::builder().uri(path);
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

/// Every `$ref` in `document` names an entry of its definitions.
fn assert_references_resolve(document: &Value, prefix: &str, definitions: &Value) {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut references = Vec::new();
    walk(document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let name = reference
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{reference} does not start with {prefix}"));
        assert!(
            definitions.get(name).is_some(),
            "{reference} is not defined"
        );
    }
}

#[tokio::test]
async fn the_v3_root_lists_each_version_with_a_stable_hash_matching_its_document() {
    let first = get("/openapi/v3", &[]).await;
    let second = get("/openapi/v3", &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, second.body);
    let root = first.json();
    let paths = root["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 2);
    for version in ApiVersion::ALL {
        let url = paths[&format!("apis/apps.kruise.io/{version}")]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .to_string();
        let hash = v3_document_hash(version);
        assert_eq!(
            url,
            format!("/openapi/v3/apis/apps.kruise.io/{version}?hash={hash}")
        );
        let document = get(&url, &[(header::ACCEPT, "application/json")]).await;
        assert_eq!(document.status, StatusCode::OK);
        assert_eq!(document.header(header::ETAG), format!("\"{hash}\""));
        assert_eq!(
            document.header(header::CACHE_CONTROL),
            "public, immutable, max-age=31536000"
        );
        assert_eq!(document.header(header::CONTENT_TYPE), "application/json");
    }
}

#[tokio::test]
async fn a_stale_hash_gets_the_current_document_without_a_redirect() {
    let reply = get("/openapi/v3/apis/apps.kruise.io/v1alpha1?hash=0123", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache, private");
    assert_eq!(reply.json()["openapi"], "3.0.0");

    let etag = reply.header(header::ETAG).to_string();
    let revalidated = get(
        "/openapi/v3/apis/apps.kruise.io/v1alpha1",
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn each_v3_document_describes_every_kind_with_group_version_kind_tags() {
    for version in ApiVersion::ALL {
        let document = get(&format!("/openapi/v3/apis/apps.kruise.io/{version}"), &[])
            .await
            .json();
        let schemas = &document["components"]["schemas"];
        assert_references_resolve(&document, "#/components/schemas/", schemas);
        for kind in Kind::ALL {
            let schema = &schemas[definition_name(kind, version)];
            assert_eq!(
                schema["x-kubernetes-group-version-kind"],
                json!([{"group": "apps.kruise.io", "version": version.as_str(), "kind": kind.name()}])
            );
            assert!(schemas.get(list_definition_name(kind, version)).is_some());
        }
        let paths = document["paths"].as_object().unwrap();
        let mut kinds_seen = std::collections::BTreeSet::new();
        for (path, item) in paths {
            assert!(path.starts_with(&format!("/apis/apps.kruise.io/{version}/")));
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let gvk = &operation["x-kubernetes-group-version-kind"];
                assert_eq!(gvk["version"], version.as_str(), "{path} {method}");
                kinds_seen.insert(gvk["kind"].as_str().unwrap().to_string());
                assert!(operation["x-kubernetes-action"].is_string());
                assert!(operation["operationId"].is_string());
            }
        }
        assert_eq!(kinds_seen.len(), Kind::ALL.len());
        // Other versions' schemas are not in this document.
        let other = ApiVersion::ALL.into_iter().find(|v| *v != version).unwrap();
        assert!(
            schemas
                .get(definition_name(Kind::NodeImage, other))
                .is_none()
        );
    }
}

#[tokio::test]
async fn patch_operations_advertise_accepted_patch_types_strategic_only_for_jobs_and_write_parameters()
 {
    let document = get("/openapi/v3/apis/apps.kruise.io/v1alpha1", &[])
        .await
        .json();
    let mut patches = 0;
    for item in document["paths"].as_object().unwrap().values() {
        let Some(patch) = item.get("patch") else {
            continue;
        };
        patches += 1;
        let mut content: Vec<&str> = patch["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        content.sort_unstable();
        let kind = patch["x-kubernetes-group-version-kind"]["kind"]
            .as_str()
            .unwrap();
        let mut advertised = if kind == "NodeImage" {
            PATCH_CONTENT_TYPES
                .iter()
                .copied()
                .filter(|t| *t != "application/strategic-merge-patch+json")
                .collect()
        } else {
            PATCH_CONTENT_TYPES.to_vec()
        };
        advertised.sort_unstable();
        assert_eq!(content, advertised, "{kind}");
        assert_eq!(patch["x-kubernetes-action"], "patch");
        // kubectl looks at operation-level parameters only.
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
    // Main resource and status, per kind.
    assert_eq!(patches, 2 * Kind::ALL.len());
}

#[tokio::test]
async fn list_operations_take_the_list_and_watch_parameters() {
    let document = get("/openapi/v3/apis/apps.kruise.io/v1beta1", &[])
        .await
        .json();
    let list = &document["paths"]["/apis/apps.kruise.io/v1beta1/namespaces/{namespace}/imagepulljobs"]
        ["get"];
    assert_eq!(list["x-kubernetes-action"], "list");
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "resourceVersionMatch",
        "watch",
        "allowWatchBookmarks",
        "sendInitialEvents",
        "timeoutSeconds",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.kruise.apps.v1beta1.ImagePullJobList"
    );
}

#[tokio::test]
async fn the_v2_document_covers_both_versions_with_resolvable_references() {
    let reply = get("/openapi/v2", &[(header::ACCEPT, "application/json")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
    assert!(reply.header(header::ETAG).starts_with('"'));
    let document = reply.json();
    assert_eq!(document["swagger"], "2.0");
    let definitions = &document["definitions"];
    assert_references_resolve(&document, "#/definitions/", definitions);
    for version in ApiVersion::ALL {
        for kind in Kind::ALL {
            assert!(definitions.get(definition_name(kind, version)).is_some());
        }
        let patch = &document["paths"]
            [format!("/apis/apps.kruise.io/{version}/nodeimages/{{name}}")]["patch"];
        assert_eq!(
            patch["consumes"],
            json!(super::patch_content_types(Kind::NodeImage))
        );
        let job_patch = &document["paths"][format!(
            "/apis/apps.kruise.io/{version}/namespaces/{{namespace}}/imagepulljobs/{{name}}"
        )]["patch"];
        assert_eq!(job_patch["consumes"], json!(PATCH_CONTENT_TYPES));
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps.kruise.io", "version": version.as_str(), "kind": "NodeImage"})
        );
    }
}

#[tokio::test]
async fn protobuf_only_requests_get_406_and_unknown_versions_404() {
    let reply = get(
        "/openapi/v3/apis/apps.kruise.io/v1alpha1",
        &[(
            header::ACCEPT,
            "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
        )],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    let reply = get("/openapi/v3/apis/apps.kruise.io/v1", &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn kubectl_gets_the_v2_document_in_protobuf_when_it_asks_for_it() {
    use prost::Message;

    let reply = get("/openapi/v2", &[(header::ACCEPT, v2_protobuf::MEDIA_TYPE)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        v2_protobuf::RESPONSE_MEDIA_TYPE
    );
    let document = gnostic::Document::decode(reply.body.as_slice()).unwrap();
    assert_eq!(document.swagger, "2.0");
    let definitions = document.definitions.unwrap().additional_properties;
    for version in ApiVersion::ALL {
        let job = definitions
            .iter()
            .find(|d| d.name == definition_name(Kind::ImagePullJob, version))
            .and_then(|d| d.value.as_ref())
            .expect("ImagePullJob is defined");
        assert!(
            job.vendor_extension
                .iter()
                .any(|e| e.name == "x-kubernetes-group-version-kind")
        );
    }
    let json = get("/openapi/v2", &[]).await;
    assert_ne!(json.header(header::ETAG), reply.header(header::ETAG));

    let other = get("/openapi/v2", &[(header::ACCEPT, "text/html")]).await;
    assert_eq!(other.status, StatusCode::NOT_ACCEPTABLE);
}
