//! OpenAPI documents describing our group: `/openapi/v2` (Swagger 2.0, both versions, in JSON
//! or gnostic's protobuf) and
//! `/openapi/v3` (a root naming one document per group-version, each at
//! `/openapi/v3/apis/apps.kruise.io/<version>?hash=<H>`).
//!
//! The per-version documents are what `kubectl explain` prints and what kubectl inspects to
//! decide whether to send `fieldValidation` and which patch type to use; kube-aggregator
//! fetches all of them to merge into the cluster's documents. PATCH lists
//! [`patch_content_types`]: for the jobs strategic merge patch included, so client-side
//! `kubectl apply` computes strategic patches from the schemas' `x-kubernetes-patch-merge-key`
//! and `x-kubernetes-patch-strategy`. NodeImage leaves it out although the server accepts it
//! (`kubectl patch` sends it regardless): kubectl's OpenAPI patch metadata cannot descend into
//! a map of objects (`spec.images`), so with it advertised every client-side apply of a
//! NodeImage would warn and fall back to a merge patch anyway.
//!
//! Documents are built on first use from [`operations`] and the schemas of `prepull-api`, then
//! served from memory with an `ETag`. A v3 document requested with its current `hash` may be
//! cached forever; with a stale one it is still served (never redirected: kube-apiserver's
//! proxy turns a 3xx from an aggregated server into an error), just not as immutable.

pub mod gnostic;
pub mod meta_schemas;
pub mod operations;
pub mod parameters;
pub mod v2;
pub mod v2_protobuf;
pub mod v3;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prepull_api::group::{ApiVersion, GROUP};

use super::discovery::accept::media_ranges;
use super::discovery::document::CachedDocument;
use super::discovery::only_get;
use super::request_info::query_param;
use super::status::ApiError;

/// The request body media types a PATCH accepts, exactly: the patch handler accepts these and
/// nothing else; the OpenAPI documents advertise [`patch_content_types`].
pub const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// The PATCH media types advertised for `kind`: all of [`PATCH_CONTENT_TYPES`] but strategic
/// merge patch for NodeImage (see the module documentation).
pub fn patch_content_types(kind: prepull_api::Kind) -> &'static [&'static str] {
    const WITHOUT_STRATEGIC: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ];
    match kind {
        prepull_api::Kind::NodeImage => WITHOUT_STRATEGIC,
        prepull_api::Kind::ImagePullJob | prepull_api::Kind::ImageListPullJob => {
            PATCH_CONTENT_TYPES
        }
    }
}

/// The media type of JSON documents.
const JSON: &str = "application/json";

/// The OpenAPI routes. They need no state, so they merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi/v2", only_get(get(openapi_v2)))
        .route("/openapi/v3", only_get(get(openapi_v3_root)))
        .route(
            &format!("/openapi/v3/apis/{GROUP}/{{version}}"),
            only_get(get(openapi_v3_document)),
        )
}

struct Documents {
    v2: CachedDocument,
    v2_protobuf: CachedDocument,
    v3_root: CachedDocument,
    v3: [CachedDocument; 2],
}

static DOCUMENTS: LazyLock<Documents> = LazyLock::new(|| {
    let v3 = ApiVersion::ALL.map(|version| CachedDocument::json(&v3::document(version)));
    let hashes: Vec<(ApiVersion, &str)> = ApiVersion::ALL
        .iter()
        .zip(&v3)
        .map(|(version, document)| (*version, document.hash()))
        .collect();
    let swagger = v2::document();
    Documents {
        v2: CachedDocument::json(&swagger),
        v2_protobuf: CachedDocument::new(v2_protobuf::encode(&swagger)),
        v3_root: CachedDocument::json(&v3::root(&hashes)),
        v3,
    }
});

/// Builds every OpenAPI document now rather than on the first request (call at startup: it
/// takes a few milliseconds and would otherwise delay the first `kubectl` call).
pub fn build_documents() {
    LazyLock::force(&DOCUMENTS);
}

/// The hash of a version's v3 document, as the root lists it.
pub fn v3_document_hash(version: ApiVersion) -> &'static str {
    DOCUMENTS.v3[version_index(version)].hash()
}

fn version_index(version: ApiVersion) -> usize {
    ApiVersion::ALL
        .iter()
        .position(|v| *v == version)
        .expect("ALL holds every version")
}

/// Whether the client takes JSON. v3 documents are served in JSON only: a client asking for
/// their protobuf form alone gets 406.
fn accepts_json(headers: &HeaderMap) -> bool {
    media_ranges(headers)
        .iter()
        .any(|range| range.admits("application", "json"))
}

fn not_acceptable(offered: &[&str]) -> Response {
    ApiError::not_acceptable(offered).into_response()
}

fn json_content_type() -> HeaderValue {
    HeaderValue::from_static(JSON)
}

/// The first range admitting JSON or the protobuf form decides (JSON for wildcards).
async fn openapi_v2(headers: HeaderMap) -> Response {
    for range in media_ranges(&headers) {
        if range.admits("application", "json") {
            return DOCUMENTS.v2.respond(&headers, json_content_type(), None);
        }
        let protobuf = v2_protobuf::MEDIA_TYPE.strip_prefix("application/");
        let deprecated = v2_protobuf::RESPONSE_MEDIA_TYPE.strip_prefix("application/");
        if range.type_ == "application"
            && [protobuf, deprecated].contains(&Some(range.subtype.as_str()))
        {
            return DOCUMENTS.v2_protobuf.respond(
                &headers,
                HeaderValue::from_static(v2_protobuf::RESPONSE_MEDIA_TYPE),
                None,
            );
        }
    }
    not_acceptable(&[JSON, v2_protobuf::MEDIA_TYPE])
}

async fn openapi_v3_root(headers: HeaderMap) -> Response {
    DOCUMENTS
        .v3_root
        .respond(&headers, json_content_type(), None)
}

async fn openapi_v3_document(
    Path(version): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(version) = ApiVersion::from_version(&version) else {
        return ApiError::path_not_found().into_response();
    };
    if !accepts_json(&headers) {
        return not_acceptable(&[JSON]);
    }
    let document = &DOCUMENTS.v3[version_index(version)];
    let cache_control = match query_param(query.as_deref(), "hash") {
        None => None,
        Some(hash) if hash == document.hash() => Some(HeaderValue::from_static(
            "public, immutable, max-age=31536000",
        )),
        Some(_) => Some(HeaderValue::from_static("no-cache, private")),
    };
    document.respond(&headers, json_content_type(), cache_control)
}

#[cfg(test)]
mod tests;
