//! Identity headers from the front proxy (kube-apiserver's aggregator): the user, uid, groups
//! and extra values it authenticated, read from the header names the trust material lists.
//! Only called once the proxy's client certificate verified against the request-header CA.

use std::collections::BTreeMap;

use axum::http::HeaderMap;

use super::trust::RequestHeaderTrust;
use crate::auth::UserInfo;

/// The identity the headers carry, with `system:authenticated` added; `None` without a
/// non-empty user header (the request is then not authenticated by the proxy).
pub fn user_from_headers(headers: &HeaderMap, trust: &RequestHeaderTrust) -> Option<UserInfo> {
    let name = first_value(headers, &trust.username_headers)?;
    let groups = trust
        .group_headers
        .iter()
        .flat_map(|h| headers.get_all(h.as_str()))
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let mut user = UserInfo::authenticated(name, groups);
    user.uid = first_value(headers, &trust.uid_headers).unwrap_or_default();
    user.extra = extra(headers, &trust.extra_prefixes);
    Some(user)
}

fn first_value(headers: &HeaderMap, names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|h| headers.get(h.as_str()))
        .filter_map(|v| v.to_str().ok())
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

/// `<prefix><escaped key>: value` headers, one value each; keys are lower-cased and
/// %-unescaped (the proxy escapes characters a header name cannot hold, e.g. `/` as `%2f`).
fn extra(headers: &HeaderMap, prefixes: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        // Header names arrive lower-cased; prefixes are lower-cased by the trust parser.
        let Some(key) = prefixes
            .iter()
            .find_map(|p| name.as_str().strip_prefix(p.as_str()))
        else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        if let Ok(value) = value.to_str() {
            extra
                .entry(percent_decode(key).to_lowercase())
                .or_default()
                .push(value.to_string());
        }
    }
    extra
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::HeaderValue;

    use super::*;
    use crate::auth::delegated::trust::RequestHeaderTrust;
    use crate::standalone::pki;

    fn trust() -> RequestHeaderTrust {
        let ca = pki::new_ca("front-proxy-ca").unwrap();
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        roots
            .add(rustls_pki_types::CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        RequestHeaderTrust {
            ca: rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap(),
            allowed_names: vec![],
            username_headers: vec!["x-remote-user".into()],
            uid_headers: vec!["x-remote-uid".into()],
            group_headers: vec!["x-remote-group".into()],
            extra_prefixes: vec!["x-remote-extra-".into()],
        }
    }

    #[test]
    fn user_uid_every_group_and_unescaped_extras_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-user", HeaderValue::from_static("alice"));
        headers.insert("x-remote-uid", HeaderValue::from_static("u-1"));
        headers.append("x-remote-group", HeaderValue::from_static("dev"));
        headers.append("x-remote-group", HeaderValue::from_static("ops"));
        headers.append(
            "x-remote-extra-authentication.kubernetes.io%2fnode-name",
            HeaderValue::from_static("node-1"),
        );
        headers.append("x-remote-extra-scopes", HeaderValue::from_static("a"));
        headers.append("x-remote-extra-scopes", HeaderValue::from_static("b"));
        let user = user_from_headers(&headers, &trust()).unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.groups, ["dev", "ops", "system:authenticated"]);
        assert_eq!(
            user.extra["authentication.kubernetes.io/node-name"],
            ["node-1"]
        );
        assert_eq!(user.extra["scopes"], ["a", "b"]);
    }

    #[test]
    fn without_a_user_header_the_proxy_authenticates_nobody() {
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-group", HeaderValue::from_static("system:masters"));
        headers.insert("x-remote-user", HeaderValue::from_static(""));
        assert_eq!(user_from_headers(&headers, &trust()), None);
    }

    #[test]
    fn a_stray_percent_is_kept() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }
}
