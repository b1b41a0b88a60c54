//! NodeRestriction: the part of a node's permissions that depends on the request body, as
//! kube-apiserver's admission plugin of that name.
//!
//! The authorizer sees only the URL. A node may `create` NodeImages there (a POST names no
//! object), and this check, run on the admitted object's name before it is stored, narrows that
//! to the one NodeImage named after the node.

use prepull_api::{GROUP, Kind};

use super::UserInfo;
use super::authorize::node_name;
use crate::http::status::{ApiError, Subject};

/// Whether `user` may create the `kind` object named `name`. Users that are not nodes pass
/// (the authorizer already decided for them); a node may create only its own NodeImage,
/// anything else is 403 (`nodeimages.apps.kruise.io "n2" is forbidden: node "n1" may only
/// create its own NodeImage`).
#[allow(clippy::result_large_err)] // `ApiError` is a whole Status; refusals are cold paths.
pub fn check_create(user: &UserInfo, kind: Kind, name: &str) -> Result<(), ApiError> {
    let Some(node) = node_name(user) else {
        return Ok(());
    };
    if kind == Kind::NodeImage && name == node {
        return Ok(());
    }
    let subject = Subject::new(GROUP, kind.info().plural, name);
    Err(ApiError::forbidden_object(
        &subject,
        &format!("node {node:?} may only create its own NodeImage"),
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::auth::authorize::NODES_GROUP;
    use crate::auth::user::MASTERS;

    fn node(name: &str) -> UserInfo {
        UserInfo::authenticated(format!("system:node:{name}"), vec![NODES_GROUP.into()])
    }

    #[test]
    fn a_node_may_create_the_nodeimage_named_after_itself() {
        assert_eq!(check_create(&node("n1"), Kind::NodeImage, "n1"), Ok(()));
    }

    #[test]
    fn a_node_creating_another_nodes_nodeimage_is_forbidden_with_kube_text() {
        let err = check_create(&node("n1"), Kind::NodeImage, "n2").unwrap_err();
        assert_eq!(err.code, StatusCode::FORBIDDEN);
        assert_eq!(err.reason, "Forbidden");
        assert_eq!(
            err.message,
            r#"nodeimages.apps.kruise.io "n2" is forbidden: node "n1" may only create its own NodeImage"#
        );
    }

    #[test]
    fn a_node_may_not_create_other_kinds_even_under_its_own_name() {
        assert!(check_create(&node("n1"), Kind::ImagePullJob, "n1").is_err());
    }

    #[test]
    fn users_that_are_not_nodes_are_left_to_the_authorizer() {
        let admin = UserInfo::authenticated("admin".into(), vec![MASTERS.into()]);
        // A node-looking name without the nodes group is not a node.
        let impostor = UserInfo::authenticated("system:node:n1".into(), vec![]);
        assert_eq!(check_create(&admin, Kind::NodeImage, "n2"), Ok(()));
        assert_eq!(check_create(&impostor, Kind::NodeImage, "n2"), Ok(()));
    }
}
