use serde_json::json;

use super::*;
use crate::registry::{Body, FeatureGates, FieldValidation, ReadRevision};

#[tokio::test]
async fn a_created_job_gets_server_fields_defaults_and_an_empty_status() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let job = created.value();
        assert_eq!(job["metadata"]["namespace"], "default");
        assert_eq!(job["metadata"]["generation"], 1);
        assert_eq!(job["metadata"]["creationTimestamp"], "2026-01-02T03:04:05Z");
        assert_eq!(job["metadata"]["uid"].as_str().unwrap().len(), 36);
        assert!(!created.resource_version().is_empty());
        assert_eq!(
            job["spec"],
            json!({
                "image": "nginx:1.25",
                "parallelism": 1,
                "completionPolicy": {"type": "Always"},
                "pullPolicy": {"timeoutSeconds": 600, "backoffLimit": 3},
                "imagePullPolicy": "IfNotPresent"
            })
        );
        assert_eq!(
            job["status"],
            json!({"desired": 0, "active": 0, "succeeded": 0, "failed": 0})
        );
        let read = fx
            .jobs()
            .get(Some("default"), "pull", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(read, created);
    }
}

#[tokio::test]
async fn a_status_sent_on_create_is_replaced_by_the_empty_status() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["status"] = json!({"desired": 5, "succeeded": 5, "message": "done"});
        let written = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        assert_eq!(value(&written)["status"]["desired"], 0);
        assert!(value(&written)["status"].get("message").is_none());
    }
}

#[tokio::test]
async fn an_invalid_job_is_refused_with_every_cause() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let body = json!({
            "metadata": {"name": "bad"},
            "spec": {
                "image": "",
                "parallelism": "10%",
                "selector": {"names": ["a"], "matchLabels": {"x": "y"}}
            }
        });
        let err = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(err.reason, "Invalid");
        let fields: Vec<&str> = err.causes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"spec.image"), "{fields:?}");
        assert!(fields.contains(&"spec.parallelism"), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.starts_with("spec.selector")),
            "{fields:?}"
        );
        assert!(
            err.message
                .starts_with("ImagePullJob.apps.kruise.io \"bad\" is invalid: ["),
            "{}",
            err.message
        );
        assert_eq!(
            code(
                fx.jobs()
                    .get(Some("default"), "bad", ReadRevision::Latest)
                    .await
            ),
            404
        );
    }
}

#[tokio::test]
async fn unknown_fields_are_refused_warned_about_or_ignored_as_asked() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["spec"]["foo"] = json!(1);
        let strict = WriteParams {
            field_validation: FieldValidation::Strict,
            ..writer()
        };
        let err = fx
            .jobs()
            .create(Some("default"), body.clone().into(), V1ALPHA1, &strict)
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(
            err.message,
            "strict decoding error: unknown field \"spec.foo\""
        );

        let warned = fx
            .jobs()
            .create(Some("default"), body.clone().into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        assert_eq!(
            warned.warnings,
            vec!["unknown field \"spec.foo\"".to_string()]
        );
        assert!(value(&warned)["spec"].get("foo").is_none());

        body["metadata"]["name"] = json!("pull-2");
        let ignore = WriteParams {
            field_validation: FieldValidation::Ignore,
            ..writer()
        };
        let ignored = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &ignore)
            .await
            .unwrap();
        assert!(ignored.warnings.is_empty());
    }
}

#[tokio::test]
async fn duplicate_fields_in_a_json_body_are_strict_errors() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let raw = br#"{"metadata":{"name":"dup"},"spec":{"image":"a","image":"nginx"}}"#;
        let strict = WriteParams {
            field_validation: FieldValidation::Strict,
            ..writer()
        };
        let err = fx
            .jobs()
            .create(
                Some("default"),
                Body::Json(bytes::Bytes::from_static(raw)),
                V1ALPHA1,
                &strict,
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.message,
            "strict decoding error: duplicate field \"spec.image\""
        );
    }
}

#[tokio::test]
async fn creating_an_existing_name_is_already_exists() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let err = fx
            .jobs()
            .create(Some("default"), job("pull").into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 409);
        assert_eq!(
            err.message,
            "imagepulljobs.apps.kruise.io \"pull\" already exists"
        );
        // The same name in another namespace is another object.
        fx.jobs()
            .create(Some("other"), job("pull").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn generate_name_picks_distinct_names_with_the_prefix() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..5 {
            let body = json!({"metadata": {"generateName": "warm-"}, "spec": {"image": "nginx"}});
            let written = fx
                .jobs()
                .create(Some("default"), body.into(), V1ALPHA1, &writer())
                .await
                .unwrap();
            let name = written.object.name().to_owned();
            assert!(name.starts_with("warm-") && name.len() == 10, "{name}");
            names.insert(name);
        }
        assert_eq!(names.len(), 5);
    }
}

#[tokio::test]
async fn a_dry_run_create_validates_everything_and_stores_nothing() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let dry = WriteParams {
            dry_run: true,
            ..writer()
        };
        let written = fx
            .jobs()
            .create(Some("default"), job("pull").into(), V1ALPHA1, &dry)
            .await
            .unwrap();
        assert_eq!(written.object.resource_version(), "");
        assert!(!written.object.uid().is_empty());
        assert_eq!(value(&written)["spec"]["parallelism"], 1);
        assert_eq!(
            code(
                fx.jobs()
                    .get(Some("default"), "pull", ReadRevision::Latest)
                    .await
            ),
            404
        );
        let invalid = json!({"metadata": {"name": "bad"}, "spec": {}});
        assert_eq!(
            code(
                fx.jobs()
                    .create(Some("default"), invalid.into(), V1ALPHA1, &dry)
                    .await
            ),
            422
        );
        fx.create_job("taken").await;
        assert_eq!(
            code(
                fx.jobs()
                    .create(Some("default"), job("taken").into(), V1ALPHA1, &dry)
                    .await
            ),
            409
        );
    }
}

#[tokio::test]
async fn the_body_namespace_must_be_the_url_namespace() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["metadata"]["namespace"] = json!("elsewhere");
        let err = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(
            err.message,
            "the namespace of the provided object does not match the namespace sent on the request"
        );
    }
}

#[tokio::test]
async fn a_body_of_another_kind_or_version_is_invalid() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["kind"] = json!("NodeImage");
        body["apiVersion"] = json!("apps.kruise.io/v1beta1");
        let err = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert_eq!(
            err.message,
            "ImagePullJob.apps.kruise.io \"pull\" is invalid: [kind: Invalid value: \"NodeImage\": must be ImagePullJob, apiVersion: Invalid value: \"apps.kruise.io/v1beta1\": must be apps.kruise.io/v1alpha1]"
        );
    }
}

#[tokio::test]
async fn a_resource_version_on_create_is_refused() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let mut body = job("pull");
        body["metadata"]["resourceVersion"] = json!("12");
        let err = fx
            .jobs()
            .create(Some("default"), body.into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(
            err.message,
            "resourceVersion should not be set on objects to be created"
        );
    }
}

#[tokio::test]
async fn the_image_pull_job_gate_forbids_job_writes_but_not_node_images() {
    let fx = Fixture::with(|options| {
        options.feature_gates = FeatureGates {
            image_pull_job_gate: false,
        }
    });
    let err = fx
        .jobs()
        .create(Some("default"), job("pull").into(), V1ALPHA1, &writer())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_u16(), 403);
    assert_eq!(err.message, "feature-gate ImagePullJobGate is not enabled");
    let lists = fx.registry.store(prepull_api::Kind::ImageListPullJob);
    let list_job = json!({"metadata": {"name": "l"}, "spec": {"images": ["nginx"]}});
    assert_eq!(
        code(
            lists
                .create(Some("default"), list_job.into(), V1ALPHA1, &writer())
                .await
        ),
        403
    );
    fx.node_images()
        .create(None, node_image("node-1").into(), V1ALPHA1, &writer())
        .await
        .unwrap();
}

#[tokio::test]
async fn node_image_tags_default_their_creation_time_to_the_clock() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let written = fx
            .node_images()
            .create(None, node_image("node-1").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        let tag = &value(&written)["spec"]["images"]["nginx"]["tags"][0];
        assert_eq!(tag["createdAt"], "2026-01-02T03:04:05Z");
        assert_eq!(tag["pullPolicy"]["timeoutSeconds"], 600);
        assert_eq!(tag["pullPolicy"]["backoffLimit"], 3);
        assert!(value(&written)["metadata"].get("namespace").is_none());
        assert_eq!(value(&written)["status"]["desired"], 0);
    }
}

#[tokio::test]
async fn a_create_records_the_creator_in_managed_fields() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let entries = created.value()["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["manager"], "kubectl");
        assert_eq!(entries[0]["operation"], "Update");
        assert_eq!(entries[0]["apiVersion"], "apps.kruise.io/v1alpha1");
        assert_eq!(entries[0]["time"], "2026-01-02T03:04:05Z");
        assert_eq!(entries[0]["fieldsV1"]["f:spec"]["f:image"], json!({}));
    }
}
