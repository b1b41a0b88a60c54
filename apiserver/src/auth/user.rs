//! An authenticated identity.

use std::collections::BTreeMap;

/// The anonymous user's name.
pub const ANONYMOUS: &str = "system:anonymous";
/// Every authenticated identity is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Identities that presented nothing are in this group.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// Members are allowed everything.
pub const MASTERS: &str = "system:masters";

/// Who made a request (Kubernetes' user.Info).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
    /// The node this identity acts for when that is not spelled in its name: set only by
    /// cluster-mode authentication, for the node agent's service account presenting a
    /// node-bound token (see [`crate::auth::authorize::node_name`]). Never read from the wire.
    pub acts_for_node: Option<String>,
}

impl UserInfo {
    /// The identity of a request that presented no credentials.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: ANONYMOUS.into(),
            groups: vec![UNAUTHENTICATED.into()],
            ..UserInfo::default()
        }
    }

    /// An authenticated user; adds `system:authenticated` to `groups`.
    pub fn authenticated(name: String, mut groups: Vec<String>) -> UserInfo {
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo {
            name,
            groups,
            ..UserInfo::default()
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.name == ANONYMOUS
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}
