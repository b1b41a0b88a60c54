//! What a request is about, read from its method, path and query before any handler runs
//! (kube-apiserver's RequestInfo): authorization, metrics and dispatch all use it.

use axum::http::Method;

/// A request for one of our resources, or for anything else (a "non-resource" path such as
/// `/healthz` or `/openapi/v2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestInfo {
    Resource(ResourceRequest),
    NonResource { path: String, verb: &'static str },
}

/// A request under `/apis/<group>/<version>/...` naming a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRequest {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
    pub group: String,
    pub version: String,
    /// Empty for cluster-scoped resources and for lists across all namespaces.
    pub namespace: String,
    pub resource: String,
    /// Empty for collection requests.
    pub name: String,
    /// `status`, or empty.
    pub subresource: String,
}

impl RequestInfo {
    /// Classifies a request. `query` is the raw query string.
    pub fn parse(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
        resource_request(method, path, query)
            .map(RequestInfo::Resource)
            .unwrap_or_else(|| RequestInfo::NonResource {
                path: path.to_string(),
                verb: non_resource_verb(method),
            })
    }
}

fn non_resource_verb(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        _ => "unknown",
    }
}

fn resource_request(method: &Method, path: &str, query: Option<&str>) -> Option<ResourceRequest> {
    let rest = path.strip_prefix("/apis/")?;
    let mut parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    // /apis/<group>/<version>/<resource...>: anything shorter is discovery.
    if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut request = ResourceRequest {
        group: parts[0].to_string(),
        version: parts[1].to_string(),
        ..ResourceRequest::default()
    };
    parts.drain(..2);

    // The deprecated `/watch/` path prefix means the same as `?watch=true`.
    let watch_path = parts.first() == Some(&"watch");
    if watch_path {
        parts.remove(0);
    }
    // `namespaces/<ns>/<resource>...`; a bare `namespaces/<ns>` would be the Namespace object
    // itself, which is not ours.
    if parts.first() == Some(&"namespaces") && parts.len() >= 3 {
        request.namespace = parts[1].to_string();
        parts.drain(..2);
    }
    match parts.as_slice() {
        [resource] => request.resource = resource.to_string(),
        [resource, name] => {
            request.resource = resource.to_string();
            request.name = name.to_string();
        }
        [resource, name, subresource] => {
            request.resource = resource.to_string();
            request.name = name.to_string();
            request.subresource = subresource.to_string();
        }
        _ => return None,
    }

    let watch_param = query_flag(query, "watch");
    request.verb = match *method {
        Method::GET | Method::HEAD if watch_path || watch_param => "watch",
        Method::GET | Method::HEAD if request.name.is_empty() => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if request.name.is_empty() => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    };
    // A list or watch narrowed to one object by `fieldSelector=metadata.name=X` is about X, so
    // an authorizer can allow an agent to watch only its own NodeImage.
    if matches!(request.verb, "list" | "watch")
        && request.name.is_empty()
        && let Some(name) = query_param(query, "fieldSelector").and_then(|s| single_name(&s))
    {
        request.name = name;
    }
    Some(request)
}

/// The value of `key` in a query string, percent-decoded.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn query_flag(query: Option<&str>, key: &str) -> bool {
    matches!(query_param(query, key).as_deref(), Some("true" | "1"))
}

/// `X` when a field selector is exactly `metadata.name=X` (or `==`).
fn single_name(selector: &str) -> Option<String> {
    let value = selector.strip_prefix("metadata.name")?;
    let value = value
        .strip_prefix("==")
        .or_else(|| value.strip_prefix('='))?;
    (!value.is_empty() && !value.contains(',')).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: Method, path: &str, query: Option<&str>) -> ResourceRequest {
        match RequestInfo::parse(&method, path, query) {
            RequestInfo::Resource(r) => r,
            other => panic!("not a resource request: {other:?}"),
        }
    }

    #[test]
    fn a_namespaced_get_names_namespace_resource_and_name() {
        let r = resource(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/namespaces/default/imagepulljobs/job1",
            None,
        );
        assert_eq!(
            (
                r.verb,
                r.group.as_str(),
                r.version.as_str(),
                r.namespace.as_str(),
                r.resource.as_str(),
                r.name.as_str()
            ),
            (
                "get",
                "apps.kruise.io",
                "v1alpha1",
                "default",
                "imagepulljobs",
                "job1"
            )
        );
    }

    #[test]
    fn verbs_follow_method_name_and_watch() {
        let base = "/apis/apps.kruise.io/v1alpha1/nodeimages";
        assert_eq!(resource(Method::GET, base, None).verb, "list");
        assert_eq!(
            resource(Method::GET, base, Some("watch=true")).verb,
            "watch"
        );
        assert_eq!(
            resource(
                Method::GET,
                "/apis/apps.kruise.io/v1alpha1/watch/nodeimages",
                None
            )
            .verb,
            "watch"
        );
        assert_eq!(resource(Method::POST, base, None).verb, "create");
        assert_eq!(
            resource(Method::DELETE, base, None).verb,
            "deletecollection"
        );
        assert_eq!(
            resource(Method::DELETE, &format!("{base}/n1"), None).verb,
            "delete"
        );
        assert_eq!(
            resource(Method::PUT, &format!("{base}/n1"), None).verb,
            "update"
        );
        assert_eq!(
            resource(Method::PATCH, &format!("{base}/n1/status"), None).subresource,
            "status"
        );
    }

    #[test]
    fn a_watch_narrowed_by_a_name_field_selector_is_about_that_name() {
        let r = resource(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/nodeimages",
            Some("watch=1&fieldSelector=metadata.name%3Dnode-1"),
        );
        assert_eq!((r.verb, r.name.as_str()), ("watch", "node-1"));
    }

    #[test]
    fn discovery_and_health_paths_are_not_resource_requests() {
        for path in [
            "/apis",
            "/apis/apps.kruise.io",
            "/apis/apps.kruise.io/v1alpha1",
            "/healthz",
            "/openapi/v2",
        ] {
            assert!(
                matches!(
                    RequestInfo::parse(&Method::GET, path, None),
                    RequestInfo::NonResource { .. }
                ),
                "{path}"
            );
        }
    }

    #[test]
    fn a_cross_namespace_list_has_no_namespace() {
        let r = resource(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/imagepulljobs",
            None,
        );
        assert_eq!((r.verb, r.namespace.as_str()), ("list", ""));
    }
}
