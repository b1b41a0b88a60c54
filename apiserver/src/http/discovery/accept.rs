//! `Accept` header parsing for the documents this server describes itself with (discovery and
//! OpenAPI), which choose between a few fixed representations rather than object shapes.
//!
//! Media ranges are ordered by `q`, the client's order kept among equals (Go's goautoneg, which
//! kube-apiserver uses, does the same); ranges with `q=0` are dropped. A missing or empty header
//! means `*/*`.

use axum::http::{HeaderMap, header};

/// One element of an `Accept` header: `type/subtype;key=value;q=0.5`.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRange {
    /// Lower-cased type, possibly `*`.
    pub type_: String,
    /// Lower-cased subtype, possibly `*`.
    pub subtype: String,
    /// Parameters other than `q`, keys lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
    /// Quality, 0.0 to 1.0.
    pub q: f32,
}

impl MediaRange {
    /// Parses one media range; `None` when it has no `type/subtype`.
    pub fn parse(text: &str) -> Option<MediaRange> {
        let mut parts = text.split(';').map(str::trim);
        let (type_, subtype) = parts.next()?.split_once('/')?;
        let (type_, subtype) = (type_.trim(), subtype.trim());
        if type_.is_empty() || subtype.is_empty() {
            return None;
        }
        let mut range = MediaRange {
            type_: type_.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params: Vec::new(),
            q: 1.0,
        };
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('"');
            if key == "q" {
                range.q = value.parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
            } else {
                range.params.push((key, value.to_string()));
            }
        }
        Some(range)
    }

    /// Whether this range admits `type_/subtype` (wildcards allowed in the range only).
    /// Parameters are not compared; see [`MediaRange::param`].
    pub fn admits(&self, type_: &str, subtype: &str) -> bool {
        (self.type_ == "*" || self.type_.eq_ignore_ascii_case(type_))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }

    /// The value of parameter `key` (lower-case), if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The acceptable media ranges of a request, most preferred first.
pub fn media_ranges(headers: &HeaderMap) -> Vec<MediaRange> {
    let text = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let mut ranges: Vec<MediaRange> = text.split(',').filter_map(MediaRange::parse).collect();
    if ranges.is_empty() {
        ranges.push(MediaRange::parse("*/*").expect("*/* parses"));
    }
    // `sort_by` is stable: equal weights keep the client's order.
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    ranges.retain(|r| r.q > 0.0);
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        headers
    }

    #[test]
    fn ranges_are_ordered_by_quality_keeping_the_client_order_among_equals() {
        let ranges = media_ranges(&headers(
            "application/json;q=0.5, application/yaml, application/*;q=0.9, text/plain",
        ));
        let names: Vec<String> = ranges
            .iter()
            .map(|r| format!("{}/{}", r.type_, r.subtype))
            .collect();
        assert_eq!(
            names,
            [
                "application/yaml",
                "text/plain",
                "application/*",
                "application/json"
            ]
        );
    }

    #[test]
    fn parameters_are_kept_and_quality_zero_ranges_are_dropped() {
        let ranges = media_ranges(&headers(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer, text/html;q=0",
        ));
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].param("as"), Some("APIGroupDiscoveryList"));
        assert_eq!(ranges[0].param("profile"), Some("nopeer"));
        assert!(ranges[0].admits("application", "json"));
    }

    #[test]
    fn a_missing_header_accepts_anything() {
        let ranges = media_ranges(&HeaderMap::new());
        assert!(ranges[0].admits("application", "json"));
        assert!(ranges[0].admits(
            "application",
            "com.github.proto-openapi.spec.v2.v1.0+protobuf"
        ));
    }
}
