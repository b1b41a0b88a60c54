//! Status-subresource validation: counters are never negative, phases and condition values
//! are known, progress is a percentage.

use prepull_api::field_error::FieldErrorType::{self, *};
use prepull_api::image_list_pull_job::ImageListPullJobStatus;
use prepull_api::job_condition::{ConditionStatus, JobCondition, JobConditionType};
use prepull_api::node_image::{
    ImagePullPhase, ImageStatus, ImageTagStatus, NodeImageStatus, SyncStatus,
};
use prepull_api::validation::Validate;
use prepull_api::{ImageListPullJob, ImagePullJob, ImagePullJobStatus, NodeImage};

fn stored<T: Default + prepull_api::KruiseResource>() -> T {
    let mut object = T::default();
    object.meta_mut().name = Some("x".into());
    object.meta_mut().resource_version = Some("1".into());
    object
}

fn fields(errors: Vec<prepull_api::field_error::FieldError>) -> Vec<(String, FieldErrorType)> {
    errors.into_iter().map(|e| (e.field, e.kind)).collect()
}

#[test]
fn an_image_pull_job_status_with_sane_values_is_valid() {
    let old: ImagePullJob = stored();
    let mut new = old.clone();
    new.status = Some(ImagePullJobStatus {
        desired: 3,
        succeeded: 2,
        failed: 1,
        observed_generation: Some(1),
        conditions: vec![JobCondition {
            type_: JobConditionType::Failed,
            status: ConditionStatus::True,
            ..JobCondition::default()
        }],
        ..ImagePullJobStatus::default()
    });
    assert_eq!(new.validate_status_update(&old), vec![]);
}

#[test]
fn image_pull_job_counters_and_conditions_are_checked() {
    let old: ImagePullJob = stored();
    let mut new = old.clone();
    new.status = Some(ImagePullJobStatus {
        active: -1,
        observed_generation: Some(-2),
        conditions: vec![JobCondition {
            type_: "Done".into(),
            status: "Maybe".into(),
            ..JobCondition::default()
        }],
        ..ImagePullJobStatus::default()
    });
    assert_eq!(
        fields(new.validate_status_update(&old)),
        vec![
            ("status.active".to_owned(), Invalid),
            ("status.observedGeneration".to_owned(), Invalid),
            ("status.conditions[0].type".to_owned(), NotSupported),
            ("status.conditions[0].status".to_owned(), NotSupported),
        ]
    );
}

#[test]
fn image_list_pull_job_counters_are_not_negative() {
    let old: ImageListPullJob = stored();
    let mut new = old.clone();
    new.status = Some(ImageListPullJobStatus {
        desired: 2,
        completed: 1,
        ..ImageListPullJobStatus::default()
    });
    assert_eq!(new.validate_status_update(&old), vec![]);
    new.status.as_mut().unwrap().completed = -1;
    assert_eq!(
        fields(new.validate_status_update(&old)),
        vec![("status.completed".to_owned(), Invalid)]
    );
}

fn node_status(phase: ImagePullPhase, progress: i32) -> NodeImageStatus {
    NodeImageStatus {
        desired: 1,
        image_statuses: [(
            "nginx".to_owned(),
            ImageStatus {
                tags: vec![ImageTagStatus {
                    tag: "v1".into(),
                    phase,
                    progress,
                    ..ImageTagStatus::default()
                }],
            },
        )]
        .into(),
        ..NodeImageStatus::default()
    }
}

#[test]
fn node_image_tag_phases_are_known_and_progress_is_a_percentage() {
    let old: NodeImage = stored();
    let mut new = old.clone();
    for (phase, progress) in [
        (ImagePullPhase::Pulling, 0),
        (ImagePullPhase::Succeeded, 100),
    ] {
        new.status = Some(node_status(phase, progress));
        assert_eq!(new.validate_status_update(&old), vec![]);
    }
    new.status = Some(node_status("Stuck".into(), 101));
    assert_eq!(
        fields(new.validate_status_update(&old)),
        vec![
            (
                "status.imageStatuses[nginx].tags[0].phase".to_owned(),
                NotSupported
            ),
            (
                "status.imageStatuses[nginx].tags[0].progress".to_owned(),
                Invalid
            ),
        ]
    );
    new.status = Some(node_status(ImagePullPhase::default(), 0));
    assert_eq!(
        fields(new.validate_status_update(&old)),
        vec![(
            "status.imageStatuses[nginx].tags[0].phase".to_owned(),
            NotSupported
        )],
        "an unset phase is not a phase"
    );
}

#[test]
fn node_image_counters_and_first_sync_status_are_checked() {
    let old: NodeImage = stored();
    let mut new = old.clone();
    new.status = Some(NodeImageStatus {
        waiting: -1,
        first_sync_status: Some(SyncStatus {
            status: Some("Partly".into()),
            ..SyncStatus::default()
        }),
        ..NodeImageStatus::default()
    });
    assert_eq!(
        fields(new.validate_status_update(&old)),
        vec![
            ("status.waiting".to_owned(), Invalid),
            ("status.firstSyncStatus.status".to_owned(), NotSupported),
        ]
    );
}
