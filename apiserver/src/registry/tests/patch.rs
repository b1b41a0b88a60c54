use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::registry::{FieldValidation, Patch, ReadRevision, Subresource};

fn merge(patch: Value) -> Patch {
    Patch::Merge(Bytes::from(patch.to_string()))
}

fn json_patch(patch: Value) -> Patch {
    Patch::Json(Bytes::from(patch.to_string()))
}

async fn patch_job(fx: &Fixture, patch: Patch, params: &WriteParams) -> Result<Written, ApiError> {
    fx.jobs()
        .patch(
            Some("default"),
            "pull",
            &patch,
            V1ALPHA1,
            Subresource::Main,
            params,
        )
        .await
}

#[tokio::test]
async fn a_merge_patch_sets_fields_and_null_removes_them() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["metadata"]["labels"] = json!({"keep": "1", "drop": "2"});
        fx.jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let patch =
            merge(json!({"metadata": {"labels": {"drop": null}}, "spec": {"parallelism": 3}}));
        let written = patch_job(&fx, patch, &writer()).await.unwrap();
        assert_eq!(value(&written)["metadata"]["labels"], json!({"keep": "1"}));
        assert_eq!(value(&written)["spec"]["parallelism"], 3);
        assert_eq!(value(&written)["metadata"]["generation"], 2);
    }
}

#[tokio::test]
async fn a_json_patch_applies_its_operations_in_order() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let patch = json_patch(json!([
            {"op": "test", "path": "/spec/image", "value": "nginx:1.25"},
            {"op": "replace", "path": "/spec/image", "value": "nginx:1.27"}
        ]));
        let written = patch_job(&fx, patch, &writer()).await.unwrap();
        assert_eq!(value(&written)["spec"]["image"], "nginx:1.27");
        let failing = json_patch(json!([{"op": "test", "path": "/spec/image", "value": "other"}]));
        let err = patch_job(&fx, failing, &writer()).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
    }
}

#[tokio::test]
async fn a_patch_cannot_rename_or_retype_the_object() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let renamed = patch_job(
            &fx,
            merge(json!({"metadata": {"name": "other"}})),
            &writer(),
        )
        .await;
        let err = renamed.unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(
            err.message,
            "the name of the object (other) does not match the name on the URL (pull)"
        );
        let moved = patch_job(
            &fx,
            merge(json!({"metadata": {"namespace": "x"}})),
            &writer(),
        )
        .await;
        assert_eq!(code(moved), 400);
        let retyped = patch_job(&fx, merge(json!({"kind": "NodeImage"})), &writer()).await;
        let err = retyped.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(err.causes[0].field, "kind");
        let reversioned = patch_job(
            &fx,
            merge(json!({"apiVersion": "apps.kruise.io/v1beta1"})),
            &writer(),
        )
        .await;
        assert_eq!(code(reversioned), 422);
    }
}

#[tokio::test]
async fn unknown_fields_in_a_patch_are_reported_on_the_patch() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let strict = WriteParams {
            field_validation: FieldValidation::Strict,
            ..writer()
        };
        let err = patch_job(&fx, merge(json!({"spec": {"foo": 1}})), &strict)
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(err.causes[0].field, "patch");
        assert!(
            err.message
                .ends_with(": strict decoding error: unknown field \"spec.foo\""),
            "{}",
            err.message
        );
        let warned = patch_job(&fx, merge(json!({"spec": {"foo": 1}})), &writer())
            .await
            .unwrap();
        assert_eq!(
            warned.warnings,
            vec!["unknown field \"spec.foo\"".to_string()]
        );
    }
}

#[tokio::test]
async fn a_patch_naming_a_stale_resource_version_is_a_conflict() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        patch_job(&fx, merge(json!({"spec": {"parallelism": 2}})), &writer())
            .await
            .unwrap();
        let stale = merge(json!({
            "metadata": {"resourceVersion": created.resource_version()},
            "spec": {"parallelism": 4}
        }));
        assert_eq!(code(patch_job(&fx, stale, &writer()).await), 409);
    }
}

#[tokio::test]
async fn a_malformed_patch_is_a_bad_request() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let broken = Patch::Merge(Bytes::from_static(b"{not json"));
        assert_eq!(code(patch_job(&fx, broken, &writer()).await), 400);
        let not_operations = json_patch(json!({"op": "add"}));
        assert_eq!(code(patch_job(&fx, not_operations, &writer()).await), 400);
        let missing = Patch::Merge(Bytes::from_static(b"{}"));
        let err = fx
            .jobs()
            .patch(
                Some("default"),
                "absent",
                &missing,
                V1ALPHA1,
                Subresource::Main,
                &writer(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 404);
    }
}

#[tokio::test]
async fn the_documented_node_image_patch_adds_a_tag() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.node_images()
            .create(None, node_image("node-1").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        // The OpenKruise documentation's example: pull ubuntu:latest on one node.
        let patch = merge(json!({"spec": {"images": {"ubuntu": {"tags": [
            {"tag": "latest", "pullPolicy": {"ttlSecondsAfterFinished": 300}}
        ]}}}}));
        let written = fx
            .node_images()
            .patch(
                None,
                "node-1",
                &patch,
                V1ALPHA1,
                Subresource::Main,
                &writer(),
            )
            .await
            .unwrap();
        let images = &value(&written)["spec"]["images"];
        assert_eq!(
            images["ubuntu"]["tags"][0]["createdAt"],
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(images["nginx"]["tags"][0]["tag"], "1.25");
    }
}

#[tokio::test]
async fn a_status_patch_changes_only_the_status() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.node_images()
            .create(None, node_image("node-1").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let patch =
            merge(json!({"status": {"desired": 1, "waiting": 1}, "spec": {"images": null}}));
        let written = fx
            .node_images()
            .patch(
                None,
                "node-1",
                &patch,
                V1ALPHA1,
                Subresource::Status,
                &writer(),
            )
            .await
            .unwrap();
        assert_eq!(value(&written)["status"]["waiting"], 1);
        assert!(value(&written)["spec"]["images"].get("nginx").is_some());
        let stored = fx
            .node_images()
            .get(None, "node-1", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(stored, written.object);
    }
}
