//! Delegated authorization: kube-apiserver decides (SubjectAccessReview, so RBAC and any other
//! authorizer of the cluster apply), answers remembered briefly. Some paths are always allowed
//! (health), and `system:masters` is allowed without asking (kube-apiserver's aggregator checks
//! availability as such a user).

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use prepull_api::GROUP;

use crate::auth::UserInfo;
use crate::auth::authorize::{Authorizer, Decision, node_may, node_name};
use crate::auth::ttl_cache::TtlCache;
use crate::auth::user::MASTERS;
use crate::http::request_info::RequestInfo;

/// Deadline of one SubjectAccessReview.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many decisions are remembered.
const CACHE_CAPACITY: usize = 8192;

/// How long decisions are remembered, and what needs no review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationOptions {
    /// kube's `--authorization-webhook-cache-authorized-ttl` (10 s).
    pub allow_ttl: Duration,
    /// kube's `--authorization-webhook-cache-unauthorized-ttl` (10 s).
    pub deny_ttl: Duration,
    /// Paths anyone may request (`/healthz`, `/livez`, `/readyz` and their sub-paths by
    /// default); a trailing `*` matches any suffix.
    pub always_allow_paths: Vec<String>,
}

impl Default for AuthorizationOptions {
    fn default() -> AuthorizationOptions {
        AuthorizationOptions {
            allow_ttl: Duration::from_secs(10),
            deny_ttl: Duration::from_secs(10),
            always_allow_paths: ["/healthz", "/livez", "/readyz"]
                .into_iter()
                .flat_map(|p| [p.to_string(), format!("{p}/*")])
                .collect(),
        }
    }
}

/// Cluster-mode authorizer.
pub struct DelegatedAuthorizer {
    client: kube::Client,
    options: AuthorizationOptions,
    /// Keyed by the review's spec as JSON; the value is the decision.
    cache: TtlCache<String, Decision>,
}

impl std::fmt::Debug for DelegatedAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatedAuthorizer")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DelegatedAuthorizer {
    pub fn new(client: kube::Client, options: AuthorizationOptions) -> DelegatedAuthorizer {
        DelegatedAuthorizer {
            client,
            options,
            cache: TtlCache::new(CACHE_CAPACITY),
        }
    }

    fn always_allowed(&self, request: &RequestInfo) -> bool {
        let RequestInfo::NonResource { path, .. } = request else {
            return false;
        };
        self.options
            .always_allow_paths
            .iter()
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == allowed,
            })
    }

    async fn review(&self, spec: SubjectAccessReviewSpec) -> Result<Decision, String> {
        let review = SubjectAccessReview {
            spec,
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| format!("SubjectAccessReview took longer than {REVIEW_TIMEOUT:?}"))?
                .map_err(|err| format!("SubjectAccessReview failed: {err}"))?;
        let status = answer.status.unwrap_or_default();
        Ok(if status.allowed && status.denied != Some(true) {
            Decision::Allow
        } else {
            Decision::Deny(status.reason.unwrap_or_default())
        })
    }
}

#[async_trait]
impl Authorizer for DelegatedAuthorizer {
    async fn authorize(&self, user: &UserInfo, request: &RequestInfo) -> Decision {
        if self.always_allowed(request) || user.in_group(MASTERS) {
            return Decision::Allow;
        }
        if let Some(refusal) = node_refusal(user, request) {
            return refusal;
        }
        let spec = review_spec(user, request);
        let key = serde_json::to_string(&spec).unwrap_or_default();
        if let Some(decision) = self.cache.get(&key) {
            return decision;
        }
        match self.review(spec).await {
            Ok(decision) => {
                let ttl = match decision {
                    Decision::Allow => self.options.allow_ttl,
                    Decision::Deny(_) => self.options.deny_ttl,
                };
                self.cache.insert(key, decision.clone(), ttl);
                decision
            }
            Err(err) => {
                tracing::warn!(%err, user = %user.name, "could not authorize a request");
                Decision::Deny(format!("authorization could not be checked: {err}"))
            }
        }
    }
}

/// Node identities (agents) are narrowed to their own NodeImage whatever RBAC grants their
/// service account (as kube's Node authorizer does for kubelets): `Some(Deny)` for a NodeImage
/// request a node may not make, `None` to let the review decide.
fn node_refusal(user: &UserInfo, request: &RequestInfo) -> Option<Decision> {
    let node = node_name(user)?;
    match request {
        RequestInfo::Resource(r) if r.group == GROUP && r.resource == "nodeimages" => {
            (!node_may(user, r))
                .then(|| Decision::Deny(format!("node {node:?} may only access its own NodeImage")))
        }
        _ => None,
    }
}

/// The review asking whether `user` may make `request`.
pub fn review_spec(user: &UserInfo, request: &RequestInfo) -> SubjectAccessReviewSpec {
    let mut spec = SubjectAccessReviewSpec {
        user: Some(user.name.clone()),
        uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
        groups: Some(user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
        ..SubjectAccessReviewSpec::default()
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match request {
        RequestInfo::NonResource { path, verb } => {
            spec.non_resource_attributes = Some(NonResourceAttributes {
                path: Some(path.clone()),
                verb: Some(verb.to_string()),
            });
        }
        RequestInfo::Resource(r) => {
            spec.resource_attributes = Some(ResourceAttributes {
                namespace: non_empty(&r.namespace),
                verb: Some(r.verb.to_string()),
                group: Some(r.group.clone()),
                version: non_empty(&r.version),
                resource: Some(r.resource.clone()),
                subresource: non_empty(&r.subresource),
                name: non_empty(&r.name),
                ..ResourceAttributes::default()
            });
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn a_resource_request_becomes_resource_attributes_with_the_whole_identity() {
        let mut user = UserInfo::authenticated("alice".into(), vec!["dev".into()]);
        user.extra.insert("scopes".into(), vec!["a".into()]);
        let request = RequestInfo::parse(
            &Method::PATCH,
            "/apis/apps.kruise.io/v1alpha1/namespaces/a/imagepulljobs/j/status",
            None,
        );
        let spec = review_spec(&user, &request);
        assert_eq!(spec.user.as_deref(), Some("alice"));
        assert_eq!(spec.groups.unwrap(), ["dev", "system:authenticated"]);
        assert_eq!(spec.extra.unwrap()["scopes"], ["a"]);
        let attrs = spec.resource_attributes.unwrap();
        assert_eq!(attrs.verb.as_deref(), Some("patch"));
        assert_eq!(attrs.group.as_deref(), Some("apps.kruise.io"));
        assert_eq!(attrs.version.as_deref(), Some("v1alpha1"));
        assert_eq!(attrs.namespace.as_deref(), Some("a"));
        assert_eq!(attrs.resource.as_deref(), Some("imagepulljobs"));
        assert_eq!(attrs.subresource.as_deref(), Some("status"));
        assert_eq!(attrs.name.as_deref(), Some("j"));
    }

    #[test]
    fn a_path_request_becomes_non_resource_attributes() {
        let user = UserInfo::anonymous();
        let request = RequestInfo::parse(&Method::GET, "/openapi/v2", None);
        let attrs = review_spec(&user, &request)
            .non_resource_attributes
            .unwrap();
        assert_eq!(attrs.path.as_deref(), Some("/openapi/v2"));
        assert_eq!(attrs.verb.as_deref(), Some("get"));
    }

    #[test]
    fn a_node_identity_is_narrowed_to_its_own_node_image() {
        let mut agent = UserInfo::authenticated(
            "system:serviceaccount:prepull-system:prepull-nodeagent".into(),
            vec![],
        );
        agent.acts_for_node = Some("n1".into());
        let request = |method: Method, path: &str, query: Option<&str>| {
            RequestInfo::parse(&method, path, query)
        };
        let base = "/apis/apps.kruise.io/v1alpha1/nodeimages";
        for allowed in [
            request(Method::GET, &format!("{base}/n1"), None),
            request(Method::PATCH, &format!("{base}/n1/status"), None),
            request(
                Method::GET,
                base,
                Some("watch=1&fieldSelector=metadata.name%3Dn1"),
            ),
            request(Method::POST, base, None),
            request(
                Method::GET,
                "/apis/apps.kruise.io/v1alpha1/namespaces/a/imagepulljobs",
                None,
            ),
        ] {
            assert_eq!(node_refusal(&agent, &allowed), None, "{allowed:?}");
        }
        for refused in [
            request(Method::GET, &format!("{base}/n2"), None),
            request(Method::GET, base, None),
            request(Method::DELETE, &format!("{base}/n1"), None),
        ] {
            assert_eq!(
                node_refusal(&agent, &refused),
                Some(Decision::Deny(
                    r#"node "n1" may only access its own NodeImage"#.into()
                )),
                "{refused:?}"
            );
        }
        let user = UserInfo::authenticated("alice".into(), vec![]);
        assert_eq!(node_refusal(&user, &request(Method::GET, base, None)), None);
    }

    #[test]
    fn kube_default_cache_times_and_health_paths() {
        let options = AuthorizationOptions::default();
        assert_eq!(options.allow_ttl, Duration::from_secs(10));
        assert_eq!(options.deny_ttl, Duration::from_secs(10));
        assert!(
            options
                .always_allow_paths
                .contains(&"/readyz/*".to_string())
        );
    }
}
