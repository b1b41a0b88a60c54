//! A response body built once (discovery and OpenAPI documents never change while the server
//! runs) and served with an `ETag`, so clients revalidate with `If-None-Match` and get `304`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// An immutable document with its content hash.
#[derive(Clone, Debug)]
pub struct CachedDocument {
    body: Bytes,
    hash: String,
    etag: HeaderValue,
}

impl CachedDocument {
    /// The document serialized as compact JSON.
    pub fn json(value: &serde_json::Value) -> CachedDocument {
        CachedDocument::new(Bytes::from(
            serde_json::to_vec(value).expect("a JSON value serializes"),
        ))
    }

    /// A document with these exact bytes.
    pub fn new(body: Bytes) -> CachedDocument {
        let hash = content_hash(&body);
        let etag = HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex is a valid header");
        CachedDocument { body, hash, etag }
    }

    /// Upper-case hex SHA-256 of the body: the `ETag` (unquoted) and the `hash` query parameter
    /// of OpenAPI v3 document URLs.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The bytes served.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The response to a GET with these request headers: `304 Not Modified` when
    /// `If-None-Match` names this document's ETag (or is `*`), else `200` with the body. Both
    /// carry `ETag`, `Vary: Accept` (one URL serves several representations) and
    /// `Cache-Control` when given.
    pub fn respond(
        &self,
        request: &HeaderMap,
        content_type: HeaderValue,
        cache_control: Option<HeaderValue>,
    ) -> Response {
        let not_modified = if_none_match_admits(request, self.hash());
        let mut response = if not_modified {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(self.body.clone()))
        };
        if not_modified {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
        } else {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        if let Some(cache_control) = cache_control {
            headers.insert(header::CACHE_CONTROL, cache_control);
        }
        response
    }
}

fn content_hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Whether `If-None-Match` lists `hash` (quoted, possibly weak) or is `*`.
fn if_none_match_admits(request: &HeaderMap, hash: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| {
            tag == "*"
                || tag.trim_start_matches("W/").trim_matches('"') == hash && tag.ends_with('"')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(if_none_match: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(if_none_match).unwrap(),
        );
        headers
    }

    fn respond(doc: &CachedDocument, request: &HeaderMap) -> Response {
        doc.respond(
            request,
            HeaderValue::from_static("application/json"),
            Some(HeaderValue::from_static("public")),
        )
    }

    #[test]
    fn the_etag_is_the_quoted_hash_and_stays_the_same_for_the_same_content() {
        let a = CachedDocument::json(&serde_json::json!({"a": 1}));
        let b = CachedDocument::json(&serde_json::json!({"a": 1}));
        let c = CachedDocument::json(&serde_json::json!({"a": 2}));
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        let response = respond(&a, &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::ETAG].to_str().unwrap(),
            format!("\"{}\"", a.hash())
        );
    }

    #[test]
    fn a_matching_if_none_match_gets_304_without_a_body() {
        let doc = CachedDocument::json(&serde_json::json!({"a": 1}));
        let quoted = format!("\"{}\"", doc.hash());
        for header in [
            quoted.clone(),
            format!("W/{quoted}"),
            format!("\"other\", {quoted}"),
        ] {
            let response = respond(&doc, &request_with(&header));
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{header}");
            assert!(response.headers().get(header::CONTENT_TYPE).is_none());
        }
        let stale = respond(&doc, &request_with("\"0123\""));
        assert_eq!(stale.status(), StatusCode::OK);
        let unquoted = respond(&doc, &request_with(doc.hash()));
        assert_eq!(unquoted.status(), StatusCode::OK);
    }
}
