use serde_json::json;

use super::*;
use crate::registry::{Patch, Subresource};

fn manager(name: &str) -> WriteParams {
    WriteParams {
        field_manager: Some(name.into()),
        ..writer()
    }
}

fn forced(name: &str) -> WriteParams {
    WriteParams {
        force: true,
        ..manager(name)
    }
}

async fn apply(
    fx: &Fixture,
    config: Value,
    subresource: Subresource,
    params: &WriteParams,
) -> Result<Written, ApiError> {
    fx.jobs()
        .patch(
            Some("default"),
            "pull",
            &Patch::Apply(config),
            V1ALPHA1,
            subresource,
            params,
        )
        .await
}

fn config(spec: Value) -> Value {
    json!({
        "apiVersion": "apps.kruise.io/v1alpha1",
        "kind": "ImagePullJob",
        "metadata": {"name": "pull", "namespace": "default"},
        "spec": spec
    })
}

fn managers(written: &Written) -> Vec<(String, String)> {
    value(written)["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_owned(),
                e["operation"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_creates_a_missing_object_and_owns_what_it_applied() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = apply(
            &fx,
            config(json!({"image": "nginx:1.25", "parallelism": 2})),
            Subresource::Main,
            &manager("alice"),
        )
        .await
        .unwrap();
        assert!(created.created);
        assert_eq!(value(&created)["spec"]["parallelism"], 2);
        assert_eq!(
            value(&created)["spec"]["completionPolicy"]["type"],
            "Always",
            "defaults apply"
        );
        let entry = &value(&created)["metadata"]["managedFields"][0];
        assert_eq!(entry["operation"], "Apply");
        assert_eq!(
            entry["fieldsV1"],
            json!({"f:spec": {"f:image": {}, "f:parallelism": {}}})
        );
        let again = apply(
            &fx,
            config(json!({"image": "nginx:1.25", "parallelism": 2})),
            Subresource::Main,
            &manager("alice"),
        )
        .await
        .unwrap();
        assert!(!again.created);
        assert_eq!(
            value(&again)["metadata"]["resourceVersion"],
            value(&created)["metadata"]["resourceVersion"],
            "an identical apply writes nothing"
        );
    }
}

#[tokio::test]
async fn a_second_manager_conflicts_on_a_field_the_first_owns_until_it_forces() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let first = config(json!({"image": "nginx:1.25", "parallelism": 2}));
        apply(&fx, first, Subresource::Main, &manager("alice"))
            .await
            .unwrap();
        let second = config(json!({"image": "nginx:1.25", "parallelism": 4}));
        let err = apply(&fx, second.clone(), Subresource::Main, &manager("bob"))
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"alice\": .spec.parallelism"
        );
        assert_eq!(err.causes[0].reason, "FieldManagerConflict");
        assert_eq!(err.causes[0].field, ".spec.parallelism");
        let won = apply(&fx, second, Subresource::Main, &forced("bob"))
            .await
            .unwrap();
        assert_eq!(value(&won)["spec"]["parallelism"], 4);
        assert_eq!(
            managers(&won),
            [
                ("alice".to_owned(), "Apply".to_owned()),
                ("bob".to_owned(), "Apply".to_owned())
            ]
        );
        let alice = &value(&won)["metadata"]["managedFields"][0]["fieldsV1"];
        assert_eq!(*alice, json!({"f:spec": {"f:image": {}}}));
    }
}

#[tokio::test]
async fn fields_a_manager_stops_applying_are_removed() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let with_labels = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "pull", "labels": {"a": "1", "b": "2"}},
            "spec": {"image": "nginx:1.25", "parallelism": 3}
        });
        apply(&fx, with_labels, Subresource::Main, &manager("alice"))
            .await
            .unwrap();
        let fewer = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "pull", "labels": {"a": "1"}},
            "spec": {"image": "nginx:1.25"}
        });
        let written = apply(&fx, fewer, Subresource::Main, &manager("alice"))
            .await
            .unwrap();
        assert_eq!(value(&written)["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(
            value(&written)["spec"]["parallelism"],
            1,
            "back to the default"
        );
    }
}

#[tokio::test]
async fn an_update_takes_fields_from_an_apply_manager_without_conflict() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        apply(
            &fx,
            config(json!({"image": "nginx:1.25", "parallelism": 2})),
            Subresource::Main,
            &manager("alice"),
        )
        .await
        .unwrap();
        let patch = Patch::Merge(bytes::Bytes::from_static(br#"{"spec":{"parallelism":6}}"#));
        let patched = fx
            .jobs()
            .patch(
                Some("default"),
                "pull",
                &patch,
                V1ALPHA1,
                Subresource::Main,
                &manager("editor"),
            )
            .await
            .unwrap();
        assert_eq!(
            managers(&patched),
            [
                ("alice".to_owned(), "Apply".to_owned()),
                ("editor".to_owned(), "Update".to_owned())
            ]
        );
        let err = apply(
            &fx,
            config(json!({"image": "nginx:1.25", "parallelism": 2})),
            Subresource::Main,
            &manager("alice"),
        )
        .await
        .unwrap_err();
        assert!(
            err.message
                .starts_with("Apply failed with 1 conflict: conflict with \"editor\" using apps.kruise.io/v1alpha1 at "),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn apply_to_status_is_recorded_under_the_status_subresource() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("pull").await;
        let status = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "pull"},
            "status": {"desired": 3, "failedNodes": ["n1"]}
        });
        let written = apply(&fx, status, Subresource::Status, &manager("controller"))
            .await
            .unwrap();
        assert_eq!(value(&written)["status"]["desired"], 3);
        let entry = value(&written)["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == "controller")
            .unwrap()
            .clone();
        assert_eq!(entry["subresource"], "status");
        assert_eq!(
            entry["fieldsV1"],
            json!({"f:status": {"f:desired": {}, "f:failedNodes": {"v:\"n1\"": {}}}})
        );
    }
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_force_needs_apply() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let err = apply(
            &fx,
            config(json!({"image": "nginx"})),
            Subresource::Main,
            &writer(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code.as_u16(), 422);
        assert!(
            err.message.contains("fieldManager: Required value"),
            "{}",
            err.message
        );
        fx.create_job("pull").await;
        let merge = Patch::Merge(bytes::Bytes::from_static(b"{}"));
        let forced_merge = fx
            .jobs()
            .patch(
                Some("default"),
                "pull",
                &merge,
                V1ALPHA1,
                Subresource::Main,
                &forced("x"),
            )
            .await;
        assert_eq!(code(forced_merge), 422);
    }
}

#[tokio::test]
async fn managers_own_node_image_tags_by_key_and_keep_each_others() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let tags = |tags: &[&str]| {
            let tags: Vec<Value> = tags
                .iter()
                .map(|t| json!({"tag": t, "pullPolicy": {"ttlSecondsAfterFinished": 60}}))
                .collect();
            json!({
                "apiVersion": "apps.kruise.io/v1alpha1",
                "kind": "NodeImage",
                "metadata": {"name": "n1"},
                "spec": {"images": {"nginx": {"tags": tags}}}
            })
        };
        let apply_node = |config: Value, who: &'static str| {
            let nodes = fx.node_images();
            async move {
                nodes
                    .patch(
                        None,
                        "n1",
                        &Patch::Apply(config),
                        V1ALPHA1,
                        Subresource::Main,
                        &manager(who),
                    )
                    .await
                    .unwrap()
            }
        };
        apply_node(tags(&["1.25"]), "alice").await;
        let both = apply_node(tags(&["1.27"]), "bob").await;
        let listed = |written: &Written| -> Vec<String> {
            value(written)["spec"]["images"]["nginx"]["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tag"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(listed(&both), ["1.25", "1.27"]);
        let bob = &value(&both)["metadata"]["managedFields"][1];
        assert_eq!(bob["manager"], "bob");
        assert!(
            bob["fieldsV1"]
                .to_string()
                .contains(r#"k:{\"tag\":\"1.27\"}"#),
            "{bob}"
        );
        let alice_drops_hers = apply_node(tags(&[]), "alice").await;
        assert_eq!(listed(&alice_drops_hers), ["1.27"]);
    }
}
