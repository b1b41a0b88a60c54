//! One stored form serves v1alpha1 and v1beta1 without losing the v1beta1-only `mode`.

mod fixtures;

use prepull_api::versions::{ServedVersions, keep_unserved_value, present_value};
use prepull_api::{ApiVersion, ImagePullJob, Kind, NodeImage};

fn stored_node() -> NodeImage {
    serde_json::from_value(fixtures::value("full-node-image.json")).unwrap()
}

const APP: &str = "ghcr.io/org/app";

#[test]
fn v1alpha1_presentation_drops_mode_and_v1beta1_keeps_it() {
    let stored = stored_node();
    let alpha = stored.presented_in(ApiVersion::V1alpha1);
    assert_eq!(alpha.api_version, "apps.kruise.io/v1alpha1");
    assert_eq!(alpha.kind, "NodeImage");
    assert_eq!(alpha.spec.images[APP].pull_secrets[0].mode, "");
    let json = serde_json::to_value(&alpha).unwrap();
    assert!(
        json.pointer("/spec/images/ghcr.io~1org~1app/pullSecrets/0/mode")
            .is_none()
    );

    let beta = stored.presented_in(ApiVersion::V1beta1);
    assert_eq!(beta.api_version, "apps.kruise.io/v1beta1");
    assert_eq!(beta.spec.images[APP].pull_secrets[0].mode, "batch");
}

#[test]
fn a_v1alpha1_update_keeps_the_stored_mode() {
    let stored = stored_node();
    let mut update = stored.presented_in(ApiVersion::V1alpha1);
    update.spec.images.get_mut(APP).unwrap().tags.pop();
    update.keep_unserved_fields(&stored, ApiVersion::V1alpha1);
    assert_eq!(update.spec.images[APP].pull_secrets[0].mode, "batch");
    assert_eq!(
        update.spec.images[APP].tags.len(),
        1,
        "the client's change is kept"
    );
}

#[test]
fn a_v1beta1_update_may_clear_the_mode() {
    let stored = stored_node();
    let mut update = stored.presented_in(ApiVersion::V1beta1);
    update.spec.images.get_mut(APP).unwrap().pull_secrets[0]
        .mode
        .clear();
    update.keep_unserved_fields(&stored, ApiVersion::V1beta1);
    assert_eq!(update.spec.images[APP].pull_secrets[0].mode, "");
}

#[test]
fn a_new_pull_secret_gets_no_mode_from_another_secret() {
    let stored = stored_node();
    let mut update = stored.presented_in(ApiVersion::V1alpha1);
    update.spec.images.get_mut(APP).unwrap().pull_secrets[0].name = "other".into();
    update.keep_unserved_fields(&stored, ApiVersion::V1alpha1);
    assert_eq!(update.spec.images[APP].pull_secrets[0].mode, "");
}

#[test]
fn json_objects_get_the_same_treatment() {
    let stored = fixtures::value("full-node-image.json");
    let pointer = "/spec/images/ghcr.io~1org~1app/pullSecrets/0/mode";
    let mut alpha = stored.clone();
    present_value(Kind::NodeImage, &mut alpha, ApiVersion::V1alpha1);
    assert_eq!(alpha["apiVersion"], "apps.kruise.io/v1alpha1");
    assert!(alpha.pointer(pointer).is_none());

    keep_unserved_value(Kind::NodeImage, &mut alpha, &stored, ApiVersion::V1alpha1);
    assert_eq!(alpha.pointer(pointer).unwrap(), "batch");

    let mut beta = stored.clone();
    present_value(Kind::NodeImage, &mut beta, ApiVersion::V1beta1);
    assert_eq!(beta.pointer(pointer).unwrap(), "batch");
}

#[test]
fn jobs_only_change_their_api_version_between_versions() {
    let job: ImagePullJob =
        serde_json::from_value(fixtures::value("full-image-pull-job.json")).unwrap();
    let mut alpha = job.presented_in(ApiVersion::V1alpha1);
    assert_eq!(alpha.api_version, "apps.kruise.io/v1alpha1");
    alpha.api_version = job.api_version.clone();
    assert_eq!(alpha, job);
}
