//! Which node a caller speaks for, if any: a node's own identity (`system:node:<name>` in
//! `system:nodes`: kubelet-style client certificates in the main cluster, or the standalone
//! per-node client certificate), or a service account whose token is bound to a Pod on a node
//! (kube-apiserver puts the node's name in the token's extra info).

use crate::auth::UserInfo;
use crate::auth::authorize::node_name;

/// The extra-info key kube-apiserver sets on node-bound service-account tokens.
pub const NODE_NAME_EXTRA: &str = "authentication.kubernetes.io/node-name";
/// Service-account user names start with this.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The node `user` speaks for; `None` for identities tied to no node.
pub fn node_of(user: &UserInfo) -> Option<&str> {
    if let Some(node) = node_name(user) {
        return Some(node);
    }
    if !user.name.starts_with(SERVICE_ACCOUNT_PREFIX) {
        return None;
    }
    match user.extra.get(NODE_NAME_EXTRA).map(Vec::as_slice) {
        Some([node]) if !node.is_empty() => Some(node),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authorize::NODES_GROUP;

    fn service_account(extra: &[&str]) -> UserInfo {
        let mut user = UserInfo::authenticated(
            "system:serviceaccount:prepull:agent".into(),
            vec!["system:serviceaccounts".into()],
        );
        user.extra.insert(
            NODE_NAME_EXTRA.into(),
            extra.iter().map(|s| (*s).to_owned()).collect(),
        );
        user
    }

    #[test]
    fn a_node_certificate_speaks_for_its_node() {
        let user = UserInfo::authenticated("system:node:n1".into(), vec![NODES_GROUP.into()]);
        assert_eq!(node_of(&user), Some("n1"));
    }

    #[test]
    fn a_node_bound_service_account_token_speaks_for_its_node() {
        assert_eq!(node_of(&service_account(&["n2"])), Some("n2"));
    }

    #[test]
    fn ambiguous_or_unbound_identities_speak_for_no_node() {
        assert_eq!(node_of(&service_account(&[])), None);
        assert_eq!(node_of(&service_account(&["n1", "n2"])), None);
        let mut user = UserInfo::authenticated("alice".into(), vec![]);
        user.extra
            .insert(NODE_NAME_EXTRA.into(), vec!["n1".to_owned()]);
        assert_eq!(
            node_of(&user),
            None,
            "only service accounts carry node-bound tokens"
        );
        let impostor = UserInfo::authenticated("system:node:n1".into(), vec![]);
        assert_eq!(node_of(&impostor), None);
    }
}
