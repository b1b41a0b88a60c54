//! Label values of the request metrics, derived from a request the way kube-apiserver derives
//! them (upper-case REST verbs, `resource`/`namespace`/`cluster` scope), and bounded: a label
//! only takes values from our own group, versions, resources and paths, so clients sending
//! arbitrary URLs cannot grow the number of series.

use axum::http::{HeaderMap, Method, header};
use prepull_api::group::{GROUP, Kind, VERSIONS};
use prometheus_client::encoding::EncodeLabelSet;

use crate::http::request_info::{RequestInfo, ResourceRequest};

/// What kube-apiserver reports as `component` for requests it serves itself.
const COMPONENT: &str = "apiserver";

/// Labels of a request, without the response code.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`, `DELETECOLLECTION`;
    /// the HTTP method for non-resource requests.
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    /// `status`; for non-resource requests the path (`/readyz`, `/openapi/v3`, ...).
    pub subresource: String,
    /// `resource` (one object), `namespace`, `cluster`, or empty for non-resource requests.
    pub scope: String,
    pub component: String,
}

/// [`RequestLabels`] plus the response code.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodedRequestLabels {
    #[prometheus(flatten)]
    pub request: RequestLabels,
    pub code: String,
}

/// Labels of `apiserver_registered_watchers`.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherLabels {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// Labels of storage latencies.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageLabels {
    /// `get`, `list`, `create`, `update`, `delete`, `watch`, ...
    pub operation: String,
    /// `etcd`, `embedded`, `cache`.
    pub backend: String,
}

impl RequestLabels {
    /// The labels of a request described by `info` with these headers.
    pub fn new(method: &Method, info: &RequestInfo, headers: &HeaderMap) -> RequestLabels {
        match info {
            RequestInfo::Resource(request) => resource_labels(method, request, headers),
            RequestInfo::NonResource { path, .. } => RequestLabels {
                verb: method_label(method).to_string(),
                subresource: non_resource_path(path).to_string(),
                component: COMPONENT.to_string(),
                ..RequestLabels::default()
            },
        }
    }

    /// Whether this is a watch (a long-running request).
    pub fn is_watch(&self) -> bool {
        self.verb == "WATCH"
    }

    /// The watcher labels of a watch on one of our resources.
    pub fn watcher(&self) -> WatcherLabels {
        WatcherLabels {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: Kind::from_plural(&self.resource)
                .map(|k| k.name().to_string())
                .unwrap_or_default(),
        }
    }
}

fn resource_labels(
    method: &Method,
    request: &ResourceRequest,
    headers: &HeaderMap,
) -> RequestLabels {
    let verb = match request.verb {
        "get" => "GET",
        "list" => "LIST",
        "watch" => "WATCH",
        "create" => "POST",
        "update" => "PUT",
        "patch" if is_apply(headers) => "APPLY",
        "patch" => "PATCH",
        "delete" => "DELETE",
        "deletecollection" => "DELETECOLLECTION",
        _ => method_label(method),
    };
    let ours = request.group == GROUP
        && VERSIONS.contains(&request.version.as_str())
        && Kind::from_plural(&request.resource).is_some_and(|kind| {
            request.subresource.is_empty()
                || kind
                    .info()
                    .subresources
                    .contains(&request.subresource.as_str())
        });
    if !ours {
        return RequestLabels {
            verb: verb.to_string(),
            component: COMPONENT.to_string(),
            ..RequestLabels::default()
        };
    }
    let scope = if !request.name.is_empty() || request.verb == "create" {
        "resource"
    } else if !request.namespace.is_empty() {
        "namespace"
    } else {
        "cluster"
    };
    RequestLabels {
        verb: verb.to_string(),
        group: request.group.clone(),
        version: request.version.clone(),
        resource: request.resource.clone(),
        subresource: request.subresource.clone(),
        scope: scope.to_string(),
        component: COMPONENT.to_string(),
    }
}

fn is_apply(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/apply-patch+yaml"))
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The paths this server answers outside the resource tree; anything else is `other`.
fn non_resource_path(path: &str) -> &'static str {
    const EXACT: &[&str] = &[
        "/api",
        "/apis",
        "/version",
        "/healthz",
        "/livez",
        "/readyz",
        "/metrics",
        "/openapi/v2",
        "/openapi/v3",
    ];
    if let Some(known) = EXACT.iter().find(|p| **p == path) {
        return known;
    }
    for (prefix, label) in [
        ("/healthz/", "/healthz/{check}"),
        ("/livez/", "/livez/{check}"),
        ("/readyz/", "/readyz/{check}"),
        ("/openapi/v3/apis/", "/openapi/v3/apis/{group}/{version}"),
        ("/apis/", "/apis/{group}[/{version}]"),
    ] {
        if path.starts_with(prefix) {
            return label;
        }
    }
    "other"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: Method, path: &str, query: Option<&str>) -> RequestLabels {
        let info = RequestInfo::parse(&method, path, query);
        RequestLabels::new(&method, &info, &HeaderMap::new())
    }

    #[test]
    fn resource_requests_get_kube_verbs_and_scopes() {
        let get = labels(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/namespaces/ns/imagepulljobs/a",
            None,
        );
        assert_eq!((get.verb.as_str(), get.scope.as_str()), ("GET", "resource"));
        assert_eq!(get.resource, "imagepulljobs");
        let list = labels(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/namespaces/ns/imagepulljobs",
            None,
        );
        assert_eq!(
            (list.verb.as_str(), list.scope.as_str()),
            ("LIST", "namespace")
        );
        let watch = labels(
            Method::GET,
            "/apis/apps.kruise.io/v1beta1/nodeimages",
            Some("watch=true"),
        );
        assert_eq!(
            (watch.verb.as_str(), watch.scope.as_str()),
            ("WATCH", "cluster")
        );
        assert!(watch.is_watch());
        assert_eq!(watch.watcher().kind, "NodeImage");
        let create = labels(
            Method::POST,
            "/apis/apps.kruise.io/v1beta1/nodeimages",
            None,
        );
        assert_eq!(
            (create.verb.as_str(), create.scope.as_str()),
            ("POST", "resource")
        );
        let status = labels(
            Method::PUT,
            "/apis/apps.kruise.io/v1beta1/nodeimages/n/status",
            None,
        );
        assert_eq!(
            (status.verb.as_str(), status.subresource.as_str()),
            ("PUT", "status")
        );
    }

    #[test]
    fn unknown_resources_and_paths_collapse_to_bounded_values() {
        let unknown = labels(Method::GET, "/apis/apps.kruise.io/v1alpha1/clonesets", None);
        assert_eq!(unknown.resource, "");
        assert_eq!(unknown.verb, "LIST");
        let bad_subresource = labels(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/nodeimages/n/scale",
            None,
        );
        assert_eq!(bad_subresource.resource, "");
        let scan = labels(Method::GET, "/wp-admin/index.php", None);
        assert_eq!(
            (scan.verb.as_str(), scan.subresource.as_str()),
            ("GET", "other")
        );
        let ready = labels(Method::GET, "/readyz", None);
        assert_eq!(ready.subresource, "/readyz");
        let check = labels(Method::GET, "/readyz/anything-at-all", None);
        assert_eq!(check.subresource, "/readyz/{check}");
    }

    #[test]
    fn an_apply_patch_is_reported_as_apply() {
        let method = Method::PATCH;
        let info = RequestInfo::parse(&method, "/apis/apps.kruise.io/v1alpha1/nodeimages/n", None);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/apply-patch+yaml".parse().unwrap(),
        );
        assert_eq!(RequestLabels::new(&method, &info, &headers).verb, "APPLY");
    }
}
