//! NodeRestriction: the part of a node's permissions that depends on the request body, as
//! kube-apiserver's admission plugin of that name.
//!
//! The authorizer sees only the URL. A node may `create` NodeImages there (a POST names no
//! object), and `update`/`patch` its own; this guard, run on the admitted object before it is
//! stored, narrows that to: create only the NodeImage named after the node, and through the
//! main resource change nothing but `metadata.labels` (standalone registration keeps the
//! agent's labels there). The spec is the server's: it says what to pull, and the job pull
//! secrets handed to the node follow it, so a node that could write it could ask for any
//! image with anyone's credentials. Status is the node's own (`/status`), except its
//! `conditions`: ImagesReady is the server's judgement (it lifts the readiness taint).

use prepull_api::{GROUP, Kind};
use serde_json::Value;

use super::UserInfo;
use super::authorize::node_name;
use crate::http::status::{ApiError, Subject};
use crate::registry::{Subresource, WriteGuard};

/// Metadata a node may change on its own NodeImage through the main resource, besides what
/// the server itself maintains on every write.
const NODE_WRITABLE_METADATA: &[&str] = &["labels"];
/// Metadata every write changes (kept by the server, not the requester).
const SERVER_MAINTAINED_METADATA: &[&str] = &["managedFields", "resourceVersion"];

/// The guard of one request by `user` on `kind`. Users that are not nodes pass (the
/// authorizer already decided for them).
#[derive(Clone, Copy, Debug)]
pub struct NodeRestriction<'a> {
    user: &'a UserInfo,
    kind: Kind,
}

impl<'a> NodeRestriction<'a> {
    /// The guard of `user`'s write of a `kind` object.
    pub fn new(user: &'a UserInfo, kind: Kind) -> NodeRestriction<'a> {
        NodeRestriction { user, kind }
    }

    fn refuse(&self, node: &str, name: &str, why: &str) -> ApiError {
        let subject = Subject::new(GROUP, self.kind.info().plural, name);
        ApiError::forbidden_object(&subject, &format!("node {node:?} {why}"))
    }
}

impl WriteGuard for NodeRestriction<'_> {
    /// A node may create only its own NodeImage, anything else is 403
    /// (`nodeimages.apps.kruise.io "n2" is forbidden: node "n1" may only create its own
    /// NodeImage`).
    fn may_create(&self, name: &str) -> Result<(), ApiError> {
        let Some(node) = node_name(self.user) else {
            return Ok(());
        };
        if self.kind == Kind::NodeImage && name == node {
            return Ok(());
        }
        Err(self.refuse(node, name, "may only create its own NodeImage"))
    }

    /// A node may change its NodeImage's status (`/status`) and, through the main resource,
    /// only its labels: a changed spec (or other metadata) is 403 (`nodeimages.apps.kruise.io
    /// "n1" is forbidden: node "n1" may not modify spec of its NodeImage; only its status and
    /// labels`).
    fn may_update(
        &self,
        name: &str,
        subresource: Subresource,
        old: &Value,
        new: &Value,
    ) -> Result<(), ApiError> {
        let Some(node) = node_name(self.user) else {
            return Ok(());
        };
        if self.kind != Kind::NodeImage || name != node {
            return Err(self.refuse(node, name, "may only modify its own NodeImage"));
        }
        if subresource == Subresource::Status {
            let conditions = |v: &Value| v.pointer("/status/conditions").cloned();
            if conditions(old) != conditions(new) {
                return Err(self.refuse(
                    node,
                    name,
                    "may not modify status.conditions of its NodeImage; the server judges them",
                ));
            }
            return Ok(());
        }
        match first_forbidden_change(old, new) {
            None => Ok(()),
            Some(field) => Err(self.refuse(
                node,
                name,
                &format!("may not modify {field} of its NodeImage; only its status and labels"),
            )),
        }
    }
}

/// The first field (`spec`, `metadata.annotations`, ...) that differs between `old` and `new`
/// and that a node may not change through the main resource; `status` is left to the
/// pipeline (kept from the stored object there).
fn first_forbidden_change(old: &Value, new: &Value) -> Option<String> {
    let empty = serde_json::Map::new();
    let fields = |v: &Value| v.as_object().unwrap_or(&empty).clone();
    let (old, new) = (fields(old), fields(new));
    let top_level = old.keys().chain(new.keys()).filter(|key| {
        !matches!(key.as_str(), "metadata" | "status") && old.get(*key) != new.get(*key)
    });
    if let Some(key) = top_level.min() {
        return Some(key.clone());
    }
    let metadata = |m: &serde_json::Map<String, Value>| {
        m.get("metadata")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
            .clone()
    };
    let (old_meta, new_meta) = (metadata(&old), metadata(&new));
    old_meta
        .keys()
        .chain(new_meta.keys())
        .filter(|key| {
            !NODE_WRITABLE_METADATA.contains(&key.as_str())
                && !SERVER_MAINTAINED_METADATA.contains(&key.as_str())
                && old_meta.get(*key) != new_meta.get(*key)
        })
        .min()
        .map(|key| format!("metadata.{key}"))
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
        assert_eq!(
            NodeRestriction::new(&node("n1"), Kind::NodeImage).may_create("n1"),
            Ok(())
        );
    }

    #[test]
    fn a_node_creating_another_nodes_nodeimage_is_forbidden_with_kube_text() {
        let err = NodeRestriction::new(&node("n1"), Kind::NodeImage)
            .may_create("n2")
            .unwrap_err();
        assert_eq!(err.code, StatusCode::FORBIDDEN);
        assert_eq!(err.reason, "Forbidden");
        assert_eq!(
            err.message,
            r#"nodeimages.apps.kruise.io "n2" is forbidden: node "n1" may only create its own NodeImage"#
        );
    }

    #[test]
    fn a_node_may_not_create_other_kinds_even_under_its_own_name() {
        assert!(
            NodeRestriction::new(&node("n1"), Kind::ImagePullJob)
                .may_create("n1")
                .is_err()
        );
    }

    #[test]
    fn users_that_are_not_nodes_are_left_to_the_authorizer() {
        let admin = UserInfo::authenticated("admin".into(), vec![MASTERS.into()]);
        // A node-looking name without the nodes group is not a node.
        let impostor = UserInfo::authenticated("system:node:n1".into(), vec![]);
        assert_eq!(
            NodeRestriction::new(&admin, Kind::NodeImage).may_create("n2"),
            Ok(())
        );
        assert_eq!(
            NodeRestriction::new(&impostor, Kind::NodeImage).may_create("n2"),
            Ok(())
        );
    }

    fn node_image(spec: Value, labels: Value, status: Value) -> Value {
        serde_json::json!({
            "apiVersion": "apps.kruise.io/v1beta1",
            "kind": "NodeImage",
            "metadata": {"name": "n1", "labels": labels, "resourceVersion": "7"},
            "spec": spec,
            "status": status,
        })
    }

    #[test]
    fn a_node_may_change_its_labels_and_status_but_not_its_spec() {
        let user = node("n1");
        let guard = NodeRestriction::new(&user, Kind::NodeImage);
        let spec = serde_json::json!({"images": {"nginx": {"tags": [{"tag": "1"}]}}});
        let old = node_image(spec.clone(), serde_json::json!({"a": "1"}), Value::Null);
        let relabeled = node_image(spec.clone(), serde_json::json!({"a": "2"}), Value::Null);
        assert_eq!(
            guard.may_update("n1", Subresource::Main, &old, &relabeled),
            Ok(())
        );
        let status = node_image(
            spec,
            serde_json::json!({"a": "1"}),
            serde_json::json!({"desired": 1}),
        );
        assert_eq!(
            guard.may_update("n1", Subresource::Status, &old, &status),
            Ok(())
        );

        let secrets = serde_json::json!({"images": {"nginx": {
            "pullSecrets": [{"namespace": "kube-system", "name": "regcred"}],
            "tags": [{"tag": "1"}],
        }}});
        let respecced = node_image(secrets, serde_json::json!({"a": "1"}), Value::Null);
        let err = guard
            .may_update("n1", Subresource::Main, &old, &respecced)
            .unwrap_err();
        assert_eq!(err.code, StatusCode::FORBIDDEN);
        assert_eq!(
            err.message,
            r#"nodeimages.apps.kruise.io "n1" is forbidden: node "n1" may not modify spec of its NodeImage; only its status and labels"#
        );
    }

    #[test]
    fn a_node_may_not_judge_its_own_readiness() {
        let user = node("n1");
        let guard = NodeRestriction::new(&user, Kind::NodeImage);
        let pulling = serde_json::json!({"desired": 1, "conditions": [
            {"type": "ImagesReady", "status": "False", "reason": "RequiredImagesPulling"}]});
        let old = node_image(Value::Null, Value::Null, pulling.clone());
        let mut counted = old.clone();
        counted["status"]["succeeded"] = serde_json::json!(1);
        assert_eq!(
            guard.may_update("n1", Subresource::Status, &old, &counted),
            Ok(())
        );
        let mut ready = old.clone();
        ready["status"]["conditions"][0]["status"] = serde_json::json!("True");
        let err = guard
            .may_update("n1", Subresource::Status, &old, &ready)
            .unwrap_err();
        assert_eq!(err.code, StatusCode::FORBIDDEN);
        assert!(
            err.message.contains("may not modify status.conditions"),
            "{}",
            err.message
        );
        let admin = UserInfo::authenticated("admin".into(), vec![MASTERS.into()]);
        assert_eq!(
            NodeRestriction::new(&admin, Kind::NodeImage).may_update(
                "n1",
                Subresource::Status,
                &old,
                &ready
            ),
            Ok(())
        );
    }

    #[test]
    fn a_node_may_not_change_other_metadata_or_other_objects() {
        let user = node("n1");
        let guard = NodeRestriction::new(&user, Kind::NodeImage);
        let old = node_image(Value::Null, Value::Null, Value::Null);
        let mut annotated = old.clone();
        annotated["metadata"]["finalizers"] = serde_json::json!(["x"]);
        let err = guard
            .may_update("n1", Subresource::Main, &old, &annotated)
            .unwrap_err();
        assert!(
            err.message.contains("may not modify metadata.finalizers"),
            "{}",
            err.message
        );
        assert!(
            guard
                .may_update("n2", Subresource::Status, &old, &old)
                .is_err()
        );
        let admin = UserInfo::authenticated("admin".into(), vec![MASTERS.into()]);
        assert_eq!(
            NodeRestriction::new(&admin, Kind::NodeImage).may_update(
                "n2",
                Subresource::Main,
                &old,
                &annotated
            ),
            Ok(())
        );
    }
}
