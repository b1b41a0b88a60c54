use serde_json::json;

use super::*;
use crate::registry::{ReadRevision, Subresource};

async fn put(fx: &Fixture, body: Value, subresource: Subresource) -> Result<Written, ApiError> {
    fx.jobs()
        .update(
            Some("default"),
            "pull",
            body.into(),
            V1ALPHA1,
            subresource,
            &writer(),
        )
        .await
}

#[tokio::test]
async fn a_spec_change_bumps_the_generation_and_a_label_change_does_not() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["metadata"]["labels"] = json!({"team": "a"});
        let relabelled = put(&fx, body, Subresource::Main).await.unwrap();
        assert_eq!(value(&relabelled)["metadata"]["generation"], 1);
        assert_ne!(
            relabelled.object.resource_version(),
            created.resource_version()
        );

        let mut body = (*relabelled.object.value()).clone();
        body["spec"]["image"] = json!("nginx:1.27");
        let changed = put(&fx, body, Subresource::Main).await.unwrap();
        assert_eq!(value(&changed)["metadata"]["generation"], 2);
        assert_eq!(value(&changed)["spec"]["image"], "nginx:1.27");
    }
}

#[tokio::test]
async fn a_stale_update_is_a_conflict() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut first = (*created.value()).clone();
        first["metadata"]["labels"] = json!({"a": "1"});
        put(&fx, first, Subresource::Main).await.unwrap();
        let mut stale = (*created.value()).clone();
        stale["metadata"]["labels"] = json!({"b": "2"});
        let err = put(&fx, stale, Subresource::Main).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 409);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on imagepulljobs.apps.kruise.io \"pull\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }
}

#[tokio::test]
async fn an_update_must_name_a_resource_version() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let err = put(&fx, job("pull"), Subresource::Main).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "imagepulljobs.apps.kruise.io \"pull\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        );
    }
}

#[tokio::test]
async fn an_update_never_creates() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["metadata"]["resourceVersion"] = json!("1");
        assert_eq!(code(put(&fx, body, Subresource::Main).await), 404);
        assert_eq!(
            code(
                fx.jobs()
                    .get(Some("default"), "pull", ReadRevision::Latest)
                    .await
            ),
            404
        );
    }
}

#[tokio::test]
async fn the_main_resource_keeps_the_stored_status() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["status"]["succeeded"] = json!(9);
        body["spec"]["image"] = json!("redis");
        let written = put(&fx, body, Subresource::Main).await.unwrap();
        assert_eq!(value(&written)["status"]["succeeded"], 0);
        assert_eq!(value(&written)["spec"]["image"], "redis");
    }
}

#[tokio::test]
async fn the_status_subresource_changes_only_the_status() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["status"] =
            json!({"desired": 3, "active": 1, "succeeded": 2, "failed": 0, "message": "pulling"});
        body["spec"]["image"] = json!("redis");
        body["metadata"]["labels"] = json!({"sneaky": "yes"});
        let status_writer = WriteParams {
            field_manager: Some("prepull-controller".into()),
            ..writer()
        };
        let written = fx
            .jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Status,
                &status_writer,
            )
            .await
            .unwrap();
        let job = value(&written);
        assert_eq!(job["status"]["succeeded"], 2);
        assert_eq!(job["status"]["message"], "pulling");
        assert_eq!(job["spec"]["image"], "nginx:1.25");
        assert!(job["metadata"].get("labels").is_none());
        assert_eq!(job["metadata"]["generation"], 1);
        let entries = job["metadata"]["managedFields"].as_array().unwrap();
        let status_entry = entries
            .iter()
            .find(|e| e["manager"] == "prepull-controller")
            .unwrap();
        assert_eq!(status_entry["subresource"], "status");
        assert!(status_entry["fieldsV1"].get("f:spec").is_none());
        assert_eq!(status_entry["fieldsV1"]["f:status"]["f:message"], json!({}));
    }
}

#[tokio::test]
async fn an_invalid_status_is_refused_through_the_status_subresource() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["status"]["failed"] = json!(-1);
        let err = put(&fx, body, Subresource::Status).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(err.causes[0].field, "status.failed");
    }
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_not_written() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        fx.clock
            .advance(k8s_openapi::jiff::SignedDuration::from_secs(60));
        let written = put(&fx, (*created.value()).clone(), Subresource::Main)
            .await
            .unwrap();
        assert_eq!(written.object, created);
    }
}

#[tokio::test]
async fn a_dry_run_update_stores_nothing() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["spec"]["image"] = json!("redis");
        let dry = WriteParams {
            dry_run: true,
            ..writer()
        };
        let written = fx
            .jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Main,
                &dry,
            )
            .await
            .unwrap();
        assert_eq!(value(&written)["spec"]["image"], "redis");
        assert_eq!(value(&written)["metadata"]["generation"], 2);
        let stored = fx
            .jobs()
            .get(Some("default"), "pull", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(stored, created);
    }
}

#[tokio::test]
async fn immutable_fields_are_validated_against_the_stored_object() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["spec"]["pullSecrets"] = json!(["a"]);
        let created = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let mut body = (*created.object.value()).clone();
        body["spec"]["pullSecrets"] = json!(["b"]);
        let err = put(&fx, body, Subresource::Main).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(err.causes[0].field, "spec.pullSecrets");
    }
}

#[tokio::test]
async fn the_body_must_name_the_object_of_the_url() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["metadata"]["name"] = json!("other");
        let err = put(&fx, body, Subresource::Main).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(
            err.message,
            "the name of the object (other) does not match the name on the URL (pull)"
        );
    }
}

#[tokio::test]
async fn server_owned_metadata_survives_an_update() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
        body["metadata"]["generation"] = json!(40);
        body["metadata"]["uid"] = Value::Null;
        let written = put(&fx, body, Subresource::Main).await.unwrap();
        assert_eq!(
            value(&written)["metadata"]["creationTimestamp"],
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(value(&written)["metadata"]["generation"], 1);
        assert_eq!(
            value(&written)["metadata"]["uid"],
            created.value()["metadata"]["uid"]
        );
    }
}

#[tokio::test]
async fn a_v1alpha1_update_keeps_the_v1beta1_only_secret_mode() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = node_image("node-1");
        body["apiVersion"] = json!("apps.kruise.io/v1beta1");
        body["spec"]["images"]["nginx"]["pullSecrets"] =
            json!([{"namespace": "ns", "name": "regcred", "mode": "Copy"}]);
        let created = fx
            .node_images()
            .create(
                None,
                body.into(),
                prepull_api::ApiVersion::V1beta1,
                &writer(),
            )
            .await
            .unwrap();
        // A v1alpha1 client reads the object without `mode` and writes it back.
        let mut presented = (*created.object.value()).clone();
        prepull_api::versions::present_value(Kind::NodeImage, &mut presented, V1ALPHA1);
        presented["metadata"]["labels"] = json!({"zone": "a"});
        let written = fx
            .node_images()
            .update(
                None,
                "node-1",
                presented.into(),
                V1ALPHA1,
                Subresource::Main,
                &writer(),
            )
            .await
            .unwrap();
        assert_eq!(
            value(&written)["spec"]["images"]["nginx"]["pullSecrets"][0]["mode"],
            "Copy"
        );
        assert_eq!(value(&written)["metadata"]["labels"]["zone"], "a");
    }
}

#[tokio::test]
async fn an_editor_takes_over_the_fields_it_changed() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["spec"]["image"] = json!("redis");
        let editor = WriteParams {
            field_manager: Some("kubectl-edit".into()),
            ..writer()
        };
        fx.clock
            .advance(k8s_openapi::jiff::SignedDuration::from_secs(60));
        let written = fx
            .jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Main,
                &editor,
            )
            .await
            .unwrap();
        let entries = value(&written)["metadata"]["managedFields"]
            .as_array()
            .unwrap();
        assert_eq!(entries.len(), 2);
        let creator = &entries[0];
        assert_eq!(creator["manager"], "kubectl");
        assert!(creator["fieldsV1"]["f:spec"].get("f:image").is_none());
        let edit = &entries[1];
        assert_eq!(edit["manager"], "kubectl-edit");
        assert_eq!(edit["time"], "2026-01-02T03:05:05Z");
        assert_eq!(edit["fieldsV1"], json!({"f:spec": {"f:image": {}}}));
    }
}

#[tokio::test]
async fn an_object_as_read_passes_strict_validation_when_written_back() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let mut body = (*created.value()).clone();
        body["spec"]["image"] = json!("redis");
        let strict = WriteParams {
            field_validation: crate::registry::FieldValidation::Strict,
            ..writer()
        };
        let written = fx
            .jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Main,
                &strict,
            )
            .await
            .unwrap();
        assert!(written.warnings.is_empty(), "{:?}", written.warnings);
    }
}
