//! Authorization decisions. Standalone mode uses [`StandaloneAuthorizer`]; cluster mode asks
//! kube-apiserver ([`super::delegated::DelegatedAuthorizer`], SubjectAccessReview).

use async_trait::async_trait;

use super::UserInfo;
use super::user::MASTERS;
use crate::http::request_info::{RequestInfo, ResourceRequest};

/// Whether a request may proceed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the reason is appended to the 403 message when not empty.
    Deny(String),
}

/// Decides whether `user` may make `request`.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    async fn authorize(&self, user: &UserInfo, request: &RequestInfo) -> Decision;
}

/// Paths everyone may read, even anonymously (as kube-apiserver's `system:public-info-viewer`).
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];
/// Path prefixes every authenticated user may read (`system:discovery`).
const DISCOVERY_PREFIXES: &[&str] = &["/api", "/apis", "/openapi", "/version"];

/// The node group: agents with node certificates.
pub const NODES_GROUP: &str = "system:nodes";
/// Node user names are `system:node:<node-name>`.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// Standalone rules: `system:masters` may do everything; authenticated users may read
/// discovery and OpenAPI; a node (`system:node:<name>` in `system:nodes`) may read, watch and
/// update only its own NodeImage, and create NodeImages (a POST names no object:
/// [`node_restriction`](super::node_restriction) admits only the node's own); everything else is
/// refused.
#[derive(Clone, Debug, Default)]
pub struct StandaloneAuthorizer;

#[async_trait]
impl Authorizer for StandaloneAuthorizer {
    async fn authorize(&self, user: &UserInfo, request: &RequestInfo) -> Decision {
        if user.in_group(MASTERS) {
            return Decision::Allow;
        }
        match request {
            RequestInfo::NonResource { path, verb } => {
                let path = path.trim_end_matches('/');
                let public = PUBLIC_PATHS
                    .iter()
                    .any(|p| path == *p || path.starts_with(&format!("{p}/")));
                let discovery = !user.is_anonymous()
                    && DISCOVERY_PREFIXES
                        .iter()
                        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
                if *verb == "get" && (public || discovery) {
                    Decision::Allow
                } else {
                    Decision::Deny(String::new())
                }
            }
            RequestInfo::Resource(r) if node_may(user, r) => Decision::Allow,
            RequestInfo::Resource(_) => Decision::Deny(String::new()),
        }
    }
}

/// The node name of a node identity: `system:node:<name>` in `system:nodes`, or an identity
/// authentication marked as acting for a node ([`UserInfo::acts_for_node`]: the node agent's
/// service account with a node-bound token); `None` for everyone else.
pub fn node_name(user: &UserInfo) -> Option<&str> {
    if let Some(node) = user.acts_for_node.as_deref().filter(|n| !n.is_empty()) {
        return Some(node);
    }
    user.name
        .strip_prefix(NODE_USER_PREFIX)
        .filter(|name| !name.is_empty() && user.in_group(NODES_GROUP))
}

/// Whether the node identity `user` may make the NodeImage request `r`: read, watch and update
/// its own NodeImage (lists and watches narrowed to it by `fieldSelector=metadata.name=<node>`),
/// and create NodeImages. [`node_restriction`](super::node_restriction) then narrows writes by
/// their bodies: only its own NodeImage is created, and only its status and labels change.
/// False for every other request and for users that are not nodes.
pub fn node_may(user: &UserInfo, r: &ResourceRequest) -> bool {
    let Some(node) = node_name(user) else {
        return false;
    };
    if r.resource != "nodeimages" {
        return false;
    }
    // A create names no object in the URL; NodeRestriction checks the body's name.
    let registers = r.verb == "create" && r.name.is_empty() && r.subresource.is_empty();
    let own = r.name == node && matches!(r.verb, "get" | "list" | "watch" | "update" | "patch");
    registers || own
}

/// kube-apiserver's 403 text for a refused request.
pub fn forbidden_message(user: &UserInfo, request: &RequestInfo, reason: &str) -> String {
    let base = match request {
        RequestInfo::NonResource { path, verb } => {
            format!("User {:?} cannot {verb} path {path:?}", user.name)
        }
        RequestInfo::Resource(r) => {
            let resource = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            let scope = if r.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace {:?}", r.namespace)
            };

            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
                user.name, r.verb, r.group
            )
        }
    };
    if reason.is_empty() {
        base
    } else {
        format!("{base}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    fn info(method: Method, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::parse(&method, path, query)
    }

    fn node(name: &str) -> UserInfo {
        UserInfo::authenticated(format!("system:node:{name}"), vec![NODES_GROUP.into()])
    }

    #[tokio::test]
    async fn masters_may_do_anything_and_others_nothing_by_default() {
        let request = info(
            Method::DELETE,
            "/apis/apps.kruise.io/v1alpha1/namespaces/a/imagepulljobs/j",
            None,
        );
        let admin = UserInfo::authenticated("admin".into(), vec![MASTERS.into()]);
        let alice = UserInfo::authenticated("alice".into(), vec![]);
        assert_eq!(
            StandaloneAuthorizer.authorize(&admin, &request).await,
            Decision::Allow
        );
        assert!(matches!(
            StandaloneAuthorizer.authorize(&alice, &request).await,
            Decision::Deny(_)
        ));
    }

    #[tokio::test]
    async fn a_node_may_watch_and_patch_only_its_own_nodeimage() {
        let authz = StandaloneAuthorizer;
        let own_watch = info(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/nodeimages",
            Some("watch=true&fieldSelector=metadata.name%3Dn1"),
        );
        let own_status = info(
            Method::PATCH,
            "/apis/apps.kruise.io/v1alpha1/nodeimages/n1/status",
            None,
        );
        let other = info(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/nodeimages/n2",
            None,
        );
        let all = info(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/nodeimages",
            None,
        );
        assert_eq!(
            authz.authorize(&node("n1"), &own_watch).await,
            Decision::Allow
        );
        assert_eq!(
            authz.authorize(&node("n1"), &own_status).await,
            Decision::Allow
        );
        assert!(matches!(
            authz.authorize(&node("n1"), &other).await,
            Decision::Deny(_)
        ));
        assert!(matches!(
            authz.authorize(&node("n1"), &all).await,
            Decision::Deny(_)
        ));
    }

    #[tokio::test]
    async fn a_node_may_create_nodeimages_but_no_other_write_without_its_name() {
        let authz = StandaloneAuthorizer;
        let create = info(
            Method::POST,
            "/apis/apps.kruise.io/v1alpha1/nodeimages",
            None,
        );
        let delete_all = info(
            Method::DELETE,
            "/apis/apps.kruise.io/v1alpha1/nodeimages",
            None,
        );
        let create_job = info(
            Method::POST,
            "/apis/apps.kruise.io/v1alpha1/namespaces/n1/imagepulljobs",
            None,
        );
        let delete_own = info(
            Method::DELETE,
            "/apis/apps.kruise.io/v1alpha1/nodeimages/n1",
            None,
        );
        assert_eq!(authz.authorize(&node("n1"), &create).await, Decision::Allow);
        for refused in [&delete_all, &create_job, &delete_own] {
            assert!(matches!(
                authz.authorize(&node("n1"), refused).await,
                Decision::Deny(_)
            ));
        }
        let not_a_node = UserInfo::authenticated("system:node:n1".into(), vec![]);
        assert!(matches!(
            authz.authorize(&not_a_node, &create).await,
            Decision::Deny(_)
        ));
    }

    #[tokio::test]
    async fn health_is_public_and_discovery_needs_authentication() {
        let authz = StandaloneAuthorizer;
        let anonymous = UserInfo::anonymous();
        let alice = UserInfo::authenticated("alice".into(), vec![]);
        assert_eq!(
            authz
                .authorize(&anonymous, &info(Method::GET, "/readyz", None))
                .await,
            Decision::Allow
        );
        assert!(matches!(
            authz
                .authorize(&anonymous, &info(Method::GET, "/apis", None))
                .await,
            Decision::Deny(_)
        ));
        assert_eq!(
            authz
                .authorize(&alice, &info(Method::GET, "/apis", None))
                .await,
            Decision::Allow
        );
        assert!(matches!(
            authz
                .authorize(&alice, &info(Method::GET, "/metrics", None))
                .await,
            Decision::Deny(_)
        ));
    }

    #[test]
    fn the_forbidden_message_reads_like_kube_apiserver() {
        let alice = UserInfo::authenticated("alice".into(), vec![]);
        let ns = info(
            Method::GET,
            "/apis/apps.kruise.io/v1alpha1/namespaces/default/imagepulljobs/j",
            None,
        );
        assert_eq!(
            forbidden_message(&alice, &ns, ""),
            r#"User "alice" cannot get resource "imagepulljobs" in API group "apps.kruise.io" in the namespace "default""#
        );
        let cluster = info(
            Method::PATCH,
            "/apis/apps.kruise.io/v1alpha1/nodeimages/n/status",
            None,
        );
        assert_eq!(
            forbidden_message(&alice, &cluster, ""),
            r#"User "alice" cannot patch resource "nodeimages/status" in API group "apps.kruise.io" at the cluster scope"#
        );
    }
}
