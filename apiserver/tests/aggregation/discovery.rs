//! Discovery and OpenAPI through kube-apiserver's aggregator.

use std::time::Duration;

use prepull_testbed::eventually;

use crate::support::{Env, ok};

/// kube-apiserver fetches an APIService's OpenAPI about a second after registering it and,
/// when that first fetch raced the APIService becoming Available, again a little later.
const OPENAPI_TIMEOUT: Duration = Duration::from_secs(90);

/// `kubectl api-resources` lists the three kinds; `kubectl explain` reads our OpenAPI.
pub async fn kubectl_lists_and_explains_our_kinds_through_kube_apiserver(env: &Env) {
    let resources = ok(
        &env.admin,
        &["api-resources", "--api-group=apps.kruise.io", "-o", "name"],
    )
    .await;
    for kind in ["imagepulljobs", "imagelistpulljobs", "nodeimages"] {
        assert!(
            resources
                .lines()
                .any(|l| l == format!("{kind}.apps.kruise.io")),
            "{kind} missing from:\n{resources}"
        );
    }
    let explain = eventually(
        "kubectl explain imagepulljob.spec through kube-apiserver",
        OPENAPI_TIMEOUT,
        || env.admin.run(&["explain", "imagepulljob.spec"]),
    )
    .await
    .unwrap_or_else(|err| panic!("{err:#}"));
    assert!(explain.contains("GROUP:      apps.kruise.io"), "{explain}");
    for field in ["image", "completionPolicy", "selector"] {
        assert!(explain.contains(field), "{field} missing from:\n{explain}");
    }
}
