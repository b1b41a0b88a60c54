//! API discovery: how clients learn which groups, versions and resources this server serves.
//!
//! - `/api`: the core group, which we do not serve (no versions; an empty aggregated list).
//! - `/apis`: the legacy `APIGroupList`, or with
//!   `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (or
//!   `v=v2beta1`) the aggregated [`aggregated`] document, answered with that exact media type.
//! - `/apis/apps.kruise.io`: `APIGroup`; `/apis/apps.kruise.io/<version>`: `APIResourceList`
//!   (kube-aggregator's availability probe GETs the latter every 30 s).
//!
//! Everything is derived from [`prepull_api::group::Kind::ALL`]; documents are built on first
//! use, then served from memory with an `ETag` ([`document::CachedDocument`]).

pub mod accept;
pub mod aggregated;
pub mod document;
pub mod legacy;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use prepull_api::group::{ApiVersion, GROUP};

use super::status::ApiError;
use aggregated::DiscoveryVersion;
use document::CachedDocument;

/// Verbs of every main resource, sorted as kube-apiserver lists them.
pub const RESOURCE_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Verbs of the `status` subresource.
pub const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// Media types offered, for 406 messages.
const OFFERED: &[&str] = &[
    "application/json",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
];

/// The discovery routes. They need no state, so they merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api", only_get(get(api)))
        .route("/apis", only_get(get(apis)))
        .route(&format!("/apis/{GROUP}"), only_get(get(group)))
        .route(
            &format!("/apis/{GROUP}/{{version}}"),
            only_get(get(resources)),
        )
}

/// Builds every discovery document now rather than on the first request (call at startup).
pub fn build_documents() {
    LazyLock::force(&DOCUMENTS);
}

/// Answers other methods with a 405 Status rather than an empty body.
pub(crate) fn only_get<S: Clone + Send + Sync + 'static>(
    router: MethodRouter<S>,
) -> MethodRouter<S> {
    router.fallback(|method: Method, uri: axum::http::Uri| async move {
        ApiError::method_not_supported(method.as_str(), uri.path())
    })
}

/// Every discovery document, built once.
struct Documents {
    api: Variants,
    apis: Variants,
    group: CachedDocument,
    resources: [CachedDocument; 2],
}

/// One path's legacy and aggregated forms.
struct Variants {
    legacy: CachedDocument,
    v2: CachedDocument,
    v2beta1: CachedDocument,
}

impl Variants {
    fn pick(&self, representation: Representation) -> &CachedDocument {
        match representation {
            Representation::Legacy => &self.legacy,
            Representation::Aggregated(DiscoveryVersion::V2) => &self.v2,
            Representation::Aggregated(DiscoveryVersion::V2beta1) => &self.v2beta1,
        }
    }
}

static DOCUMENTS: LazyLock<Documents> = LazyLock::new(|| Documents {
    api: Variants {
        legacy: CachedDocument::json(&legacy::api_versions()),
        v2: CachedDocument::json(&aggregated::api(DiscoveryVersion::V2)),
        v2beta1: CachedDocument::json(&aggregated::api(DiscoveryVersion::V2beta1)),
    },
    apis: Variants {
        legacy: CachedDocument::json(&legacy::group_list()),
        v2: CachedDocument::json(&aggregated::apis(DiscoveryVersion::V2)),
        v2beta1: CachedDocument::json(&aggregated::apis(DiscoveryVersion::V2beta1)),
    },
    group: CachedDocument::json(&legacy::group()),
    resources: ApiVersion::ALL.map(|v| CachedDocument::json(&legacy::resource_list(v))),
});

/// The form of a discovery response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Representation {
    Legacy,
    Aggregated(DiscoveryVersion),
}

impl Representation {
    fn content_type(self) -> HeaderValue {
        match self {
            Representation::Legacy => HeaderValue::from_static("application/json"),
            Representation::Aggregated(version) => {
                HeaderValue::from_str(&version.content_type()).expect("a valid media type")
            }
        }
    }

    /// kube-apiserver marks aggregated discovery cacheable by shared caches.
    fn cache_control(self) -> Option<HeaderValue> {
        match self {
            Representation::Legacy => None,
            Representation::Aggregated(_) => Some(HeaderValue::from_static("public")),
        }
    }
}

/// The first acceptable representation: a JSON range naming the aggregated list (only where
/// `aggregated_allowed`), or a JSON range without conversion parameters. Other ranges
/// (`as=Table`, protobuf, ...) are skipped, as kube-apiserver does. `None`: nothing fits (406).
fn negotiate(headers: &HeaderMap, aggregated_allowed: bool) -> Option<Representation> {
    for range in accept::media_ranges(headers) {
        if !range.admits("application", "json") {
            continue;
        }
        match (range.param("g"), range.param("v"), range.param("as")) {
            (None, None, None) => return Some(Representation::Legacy),
            (Some("apidiscovery.k8s.io"), Some(version), Some("APIGroupDiscoveryList"))
                if aggregated_allowed =>
            {
                if let Some(version) = DiscoveryVersion::from_param(version) {
                    return Some(Representation::Aggregated(version));
                }
            }
            _ => {}
        }
    }
    None
}

fn serve(
    headers: &HeaderMap,
    aggregated_allowed: bool,
    pick: impl Fn(Representation) -> &'static CachedDocument,
) -> Response {
    match negotiate(headers, aggregated_allowed) {
        Some(representation) => pick(representation).respond(
            headers,
            representation.content_type(),
            representation.cache_control(),
        ),
        None => ApiError::not_acceptable(OFFERED).into_response(),
    }
}

async fn api(headers: HeaderMap) -> Response {
    serve(&headers, true, |r| DOCUMENTS.api.pick(r))
}

async fn apis(headers: HeaderMap) -> Response {
    serve(&headers, true, |r| DOCUMENTS.apis.pick(r))
}

async fn group(headers: HeaderMap) -> Response {
    serve(&headers, false, |_| &DOCUMENTS.group)
}

async fn resources(Path(version): Path<String>, headers: HeaderMap) -> Response {
    let Some(version) = ApiVersion::from_version(&version) else {
        return ApiError::path_not_found().into_response();
    };
    let index = ApiVersion::ALL
        .iter()
        .position(|v| *v == version)
        .expect("ALL holds every version");
    serve(&headers, false, |_| &DOCUMENTS.resources[index])
}

#[cfg(test)]
mod tests;
