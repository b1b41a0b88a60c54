use serde_json::json;

use super::*;
use crate::registry::{
    DeleteParams, ListParams, Preconditions, PropagationPolicy, ReadRevision, Subresource,
};

async fn delete(fx: &Fixture, params: &DeleteParams) -> Result<crate::registry::Deleted, ApiError> {
    fx.jobs().delete(Some("default"), "pull", params).await
}

async fn create_with_finalizer(fx: &Fixture) -> Object {
    let mut body = job("pull");
    body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    fx.jobs()
        .create(Some("default"), body.into(), V1ALPHA1, &writer())
        .await
        .unwrap()
        .object
}

#[tokio::test]
async fn an_object_without_finalizers_is_deleted_at_once() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let deleted = delete(&fx, &DeleteParams::default()).await.unwrap();
        assert!(deleted.finished);
        assert_eq!(deleted.object.uid(), created.uid());
        let delete_revision: u64 = deleted.object.resource_version().parse().unwrap();
        assert!(delete_revision > created.resource_version().parse().unwrap());
        assert_eq!(
            code(
                fx.jobs()
                    .get(Some("default"), "pull", ReadRevision::Latest)
                    .await
            ),
            404
        );
        assert_eq!(code(delete(&fx, &DeleteParams::default()).await), 404);
    }
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_the_last_one_is_removed() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        create_with_finalizer(&fx).await;
        fx.clock
            .advance(k8s_openapi::jiff::SignedDuration::from_secs(10));
        let marked = delete(&fx, &DeleteParams::default()).await.unwrap();
        assert!(!marked.finished);
        let meta = &marked.object.value()["metadata"];
        assert_eq!(meta["deletionTimestamp"], "2026-01-02T03:04:15Z");
        assert_eq!(meta["deletionGracePeriodSeconds"], 0);
        assert_eq!(meta["generation"], 2);
        let stored = fx
            .jobs()
            .get(Some("default"), "pull", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(stored, marked.object);

        // Deleting again changes nothing.
        let again = delete(&fx, &DeleteParams::default()).await.unwrap();
        assert!(!again.finished);
        assert_eq!(again.object, stored);

        // No new finalizer may be added while deleting.
        let mut body = (*stored.value()).clone();
        body["metadata"]["finalizers"] = json!(["example.com/hold", "example.com/more"]);
        let refused = fx
            .jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Main,
                &writer(),
            )
            .await;
        assert_eq!(code(refused), 422);

        let mut body = (*stored.value()).clone();
        body["metadata"]["finalizers"] = json!([]);
        fx.jobs()
            .update(
                Some("default"),
                "pull",
                body.into(),
                V1ALPHA1,
                Subresource::Main,
                &writer(),
            )
            .await
            .unwrap();
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
async fn a_create_over_an_object_being_deleted_says_so() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        create_with_finalizer(&fx).await;
        delete(&fx, &DeleteParams::default()).await.unwrap();
        let err = fx
            .jobs()
            .create(Some("default"), job("pull").into(), V1ALPHA1, &writer())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 409);
        assert_eq!(
            err.message,
            "object is being deleted: imagepulljobs.apps.kruise.io \"pull\" already exists"
        );
    }
}

#[tokio::test]
async fn delete_preconditions_must_hold() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let wrong_uid = DeleteParams {
            preconditions: Preconditions {
                uid: Some("not-it".into()),
                resource_version: None,
            },
            ..DeleteParams::default()
        };
        let err = delete(&fx, &wrong_uid).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 409);
        assert_eq!(
            err.message,
            format!(
                "Operation cannot be fulfilled on ImagePullJob.apps.kruise.io \"pull\": the UID in the precondition (not-it) does not match the UID in record ({}). The object might have been deleted and then recreated",
                created.uid()
            )
        );
        let wrong_rv = DeleteParams {
            preconditions: Preconditions {
                uid: None,
                resource_version: Some("999".into()),
            },
            ..DeleteParams::default()
        };
        let err = delete(&fx, &wrong_rv).await.unwrap_err();
        assert!(err.message.contains(&format!(
            "the ResourceVersion in the precondition (999) does not match the ResourceVersion in record ({}). The object might have been modified",
            created.resource_version()
        )));
        let right = DeleteParams {
            preconditions: Preconditions {
                uid: Some(created.uid().into()),
                resource_version: Some(created.resource_version().into()),
            },
            ..DeleteParams::default()
        };
        assert!(delete(&fx, &right).await.unwrap().finished);
    }
}

#[tokio::test]
async fn a_dry_run_delete_keeps_the_object() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("pull").await;
        let dry = DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        };
        assert!(delete(&fx, &dry).await.unwrap().finished);
        let stored = fx
            .jobs()
            .get(Some("default"), "pull", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(stored, created);

        // With finalizers, a dry run shows the marked object and stores nothing either.
        delete(&fx, &DeleteParams::default()).await.unwrap();
        let held = create_with_finalizer(&fx).await;
        let marked = delete(&fx, &dry).await.unwrap();
        assert!(!marked.finished);
        assert!(
            marked.object.value()["metadata"]
                .get("deletionTimestamp")
                .is_some()
        );
        let stored = fx
            .jobs()
            .get(Some("default"), "pull", ReadRevision::Latest)
            .await
            .unwrap();
        assert_eq!(stored, held);
    }
}

#[tokio::test]
async fn orphan_deletion_waits_for_the_garbage_collector_only_when_one_runs() {
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    let with_collector = Fixture::new();
    with_collector.create_job("pull").await;
    let marked = delete(&with_collector, &orphan).await.unwrap();
    assert!(!marked.finished);
    assert_eq!(
        marked.object.value()["metadata"]["finalizers"],
        json!(["orphan"])
    );

    let standalone = Fixture::with(|o| o.garbage_collection = false);
    standalone.create_job("pull").await;
    assert!(delete(&standalone, &orphan).await.unwrap().finished);
}

#[tokio::test]
async fn delete_collection_deletes_what_the_selectors_select() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        for (name, team) in [("a", "x"), ("b", "y"), ("c", "x")] {
            let mut body = job(name);
            body["metadata"]["labels"] = json!({"team": team});
            fx.jobs()
                .create(Some("default"), body.into(), V1ALPHA1, &writer())
                .await
                .unwrap();
        }
        let selected = ListParams {
            label_selector: Some("team=x".into()),
            ..ListParams::default()
        };
        let deleted = fx
            .jobs()
            .delete_collection(Some("default"), &selected, &DeleteParams::default())
            .await
            .unwrap();
        let names: Vec<&str> = deleted.items.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["a", "c"]);
        let left = fx
            .jobs()
            .list(Some("default"), &ListParams::default())
            .await
            .unwrap();
        let names: Vec<&str> = left.items.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["b"]);
    }
}
