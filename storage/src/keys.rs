//! The key layout, identical to kube-apiserver's (under its `--etcd-prefix`, `/registry` by
//! default): `/<group>/<plural>/<namespace>/<name>` for namespaced objects and
//! `/<group>/<plural>/<name>` for cluster-scoped ones.
//!
//! Backends prepend their own configured root prefix; the keys handled by [`crate::Storage`]
//! callers are the ones built here.

/// The key of one object.
pub fn object_key(group: &str, plural: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("/{group}/{plural}/{ns}/{name}"),
        None => format!("/{group}/{plural}/{name}"),
    }
}

/// The prefix under which all objects of a resource (optionally in one namespace) live.
/// Always ends with `/`, so `imagepulljobs` never matches `imagepulljobsx`.
pub fn resource_prefix(group: &str, plural: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("/{group}/{plural}/{ns}/"),
        None => format!("/{group}/{plural}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_keys_nest_under_the_namespace_prefix() {
        let key = object_key("apps.kruise.io", "imagepulljobs", Some("default"), "job");
        assert_eq!(key, "/apps.kruise.io/imagepulljobs/default/job");
        assert!(key.starts_with(&resource_prefix(
            "apps.kruise.io",
            "imagepulljobs",
            Some("default")
        )));
        assert!(key.starts_with(&resource_prefix("apps.kruise.io", "imagepulljobs", None)));
    }

    #[test]
    fn resource_prefix_does_not_match_a_longer_plural() {
        let other = object_key("apps.kruise.io", "nodeimagesx", None, "n");
        assert!(!other.starts_with(&resource_prefix("apps.kruise.io", "nodeimages", None)));
    }
}
