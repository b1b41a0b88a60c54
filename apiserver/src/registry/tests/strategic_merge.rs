use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::registry::{Patch, Subresource};

fn strategic(patch: Value) -> Patch {
    Patch::Strategic(Bytes::from(patch.to_string()))
}

async fn patch_node(fx: &Fixture, patch: Patch) -> Result<Written, ApiError> {
    fx.node_images()
        .patch(None, "n1", &patch, V1ALPHA1, Subresource::Main, &writer())
        .await
}

fn tags(written: &Written) -> Vec<String> {
    value(written)["spec"]["images"]["nginx"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_strategic_patch_adds_one_tag_and_patch_delete_removes_one() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.node_images()
            .create(None, node_image("n1").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let added = patch_node(
            &fx,
            strategic(json!({"spec": {"images": {"nginx": {"tags": [
                {"tag": "1.27", "pullPolicy": {"ttlSecondsAfterFinished": 60}}
            ]}}}})),
        )
        .await
        .unwrap();
        assert_eq!(tags(&added), ["1.25", "1.27"]);
        let first = &value(&added)["spec"]["images"]["nginx"]["tags"][0];
        assert_eq!(first["pullPolicy"]["ttlSecondsAfterFinished"], 300);
        let deleted = patch_node(
            &fx,
            strategic(
                json!({"spec": {"images": {"nginx": {"tags": [{"tag": "1.25", "$patch": "delete"}]}}}}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(tags(&deleted), ["1.27"]);
        let entry = value(&deleted)["metadata"]["managedFields"][0].clone();
        assert!(
            entry["fieldsV1"]
                .to_string()
                .contains(r#"k:{\"tag\":\"1.27\"}"#),
            "managedFields key list elements: {entry}"
        );
    }
}

#[tokio::test]
async fn bad_strategic_patches_are_400_and_patches_that_do_not_fit_422() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.node_images()
            .create(None, node_image("n1").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let unknown = patch_node(&fx, strategic(json!({"spec": {"$patch": "explode"}}))).await;
        let err = unknown.unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert!(
            err.message.contains("Unknown patch type"),
            "{}",
            err.message
        );
        let keyless = patch_node(
            &fx,
            strategic(json!({"spec": {"images": {"nginx": {"tags": [{"version": 2}]}}}})),
        )
        .await;
        let err = keyless.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert!(
            err.causes[0].message.contains("declared merge key: tag"),
            "{:?}",
            err.causes
        );
        let list = patch_node(&fx, Patch::Strategic(Bytes::from_static(b"[]"))).await;
        assert_eq!(code(list), 400);
    }
}
