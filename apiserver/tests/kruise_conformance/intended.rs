//! The intended differences between OpenKruise's and Prepull's JSON for the examples, as the
//! README's "Intended differences from OpenKruise" lists them: `(object, field path, why)`,
//! where `*` in the object or the path matches any text and `REGISTRY` stands for the test
//! registry's `host:port`. The conformance test fails on a difference no entry matches, and on
//! an entry that matches no difference.

pub const DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "imagepulljob/*",
        "status.conditions[0].*",
        "ours, additive: Complete / Failed conditions (`kubectl wait --for=condition=Complete`)",
    ),
    (
        "imagepulljob/*",
        "status.observedGeneration",
        "ours, additive",
    ),
    (
        "imagepulljob/*",
        "spec.parallelism",
        "ours stores the default (1); OpenKruise applies it without storing it",
    ),
    (
        "imagelistpulljob/*",
        "spec.imagePullPolicy",
        "ours stores the default (IfNotPresent) on list jobs too; OpenKruise only on ImagePullJob",
    ),
    (
        "imagelistpulljob/*",
        "metadata.labels.controller-revision-hash",
        "not yet in ours: OpenKruise also labels the list job itself with its template hash (ours: children only)",
    ),
    (
        "imagepulljob/keep-hello",
        "metadata.finalizers[0]",
        "OpenKruise adds apps.kruise.io/deletion-protection (to clean up its copied pull secrets); ours needs no finalizer",
    ),
    (
        "nodeimage/*",
        "status.conditions[0].*",
        "ours, additive: the ImagesReady condition (readiness; `kubectl wait --for=condition=ImagesReady`)",
    ),
    (
        "nodeimage/*",
        "spec.images.REGISTRY/demo/hello.sandboxConfig.*",
        "OpenKruise overwrites the image's sandboxConfig with the last synced job's (here: none); ours keeps the job's",
    ),
    (
        "nodeimage/*",
        "spec.images.REGISTRY/demo/hello.tags[*].ownerReferences[*].apiVersion",
        "ours names the job in v1alpha1 (the preferred version it was created in); OpenKruise in v1beta1 (its storage version)",
    ),
    (
        "nodeimage/*",
        "spec.images.REGISTRY/demo/hello.tags[1].imagePullPolicy",
        "OpenKruise #2221: the tag keeps its first job's policy (IfNotPresent); ours takes the most permissive of its owners (Always)",
    ),
    (
        "nodeimage/*",
        "*.tags[*].version",
        "ours counts a tag's rounds from 1; OpenKruise from 0 (omitted when 0)",
    ),
    (
        "nodeimage/*",
        "status.imageStatuses.REGISTRY/demo/hello.tags[0].message",
        "the failure message: ours is containerd's cause and the attempt count, OpenKruise wraps the gRPC error",
    ),
    (
        "nodeimage/*",
        "status.imageStatuses.REGISTRY/demo/hello.tags[*].imageID",
        "ours reports the image id (sha256:...), OpenKruise `REPO@<image id>`",
    ),
];

/// Whether `text` matches `pattern`, where `*` matches any (possibly empty) text.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_like_shell_patterns() {
        assert!(glob_matches("imagepulljob/*", "imagepulljob/pull-hello"));
        assert!(glob_matches(
            "*.tags[*].version",
            "spec.images.r/x.tags[2].version"
        ));
        assert!(glob_matches("a", "a"));
        assert!(!glob_matches("a", "ab"));
        assert!(!glob_matches("imagepulljob/*", "nodeimage/node-1"));
        assert!(!glob_matches("*.version", "spec.versions"));
        assert!(glob_matches("a*a", "aa"));
        assert!(!glob_matches("a*a", "a"));
    }
}
