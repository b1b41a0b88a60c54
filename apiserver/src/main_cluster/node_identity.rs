//! Which node a caller speaks for, if any: a node's own identity (`system:node:<name>` in
//! `system:nodes`: kubelet-style client certificates in the main cluster, or the standalone
//! per-node client certificate), or one of the configured node agent service accounts
//! (`--node-agent-service-accounts`) holding a token bound to a Pod on a node (kube-apiserver
//! puts the node's name in the token's extra info; authentication marks such a caller with
//! [`UserInfo::acts_for_node`]). Any other service account is no node, whatever its token.

use crate::auth::UserInfo;
use crate::auth::authorize::node_name;

/// The node `user` speaks for; `None` for identities tied to no node.
pub fn node_of(user: &UserInfo) -> Option<&str> {
    node_name(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authorize::NODES_GROUP;

    use crate::auth::delegated::NODE_NAME_EXTRA;

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
    fn a_configured_agent_service_account_speaks_for_the_node_of_its_token() {
        let mut agent = service_account(&["n2"]);
        agent.acts_for_node = Some("n2".into());
        assert_eq!(node_of(&agent), Some("n2"));
    }

    #[test]
    fn other_service_accounts_with_node_bound_tokens_speak_for_no_node() {
        assert_eq!(node_of(&service_account(&["n2"])), None);
        assert_eq!(node_of(&service_account(&[])), None);
        let mut user = UserInfo::authenticated("alice".into(), vec![]);
        user.extra
            .insert(NODE_NAME_EXTRA.into(), vec!["n1".to_owned()]);
        assert_eq!(node_of(&user), None);
        let impostor = UserInfo::authenticated("system:node:n1".into(), vec![]);
        assert_eq!(node_of(&impostor), None);
    }
}
