//! Strict decoding reports unknown and duplicate fields with Kubernetes-style paths, drops
//! them from the object, and refuses values of the wrong JSON type naming the field.

mod fixtures;

use serde_json::json;

use prepull_api::strict::{DecodeError, decode, decode_value, prune};
use prepull_api::{ApiVersion, ImageListPullJob, ImagePullJob, NodeImage};

fn body(value: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn an_unknown_spec_field_is_reported_as_spec_foo_and_dropped() {
    let decoded = decode::<ImagePullJob>(
        &body(json!({"spec": {"image": "nginx", "foo": 1}})),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert_eq!(decoded.unknown_fields, vec!["spec.foo"]);
    assert_eq!(
        decoded.strict_messages(),
        vec!["unknown field \"spec.foo\""]
    );
    assert!(!decoded.is_strictly_valid());
    assert_eq!(decoded.object.spec.image, "nginx");
}

#[test]
fn unknown_fields_are_found_at_every_depth_and_reported_sorted() {
    let object = json!({
        "zzz": true,
        "metadata": {"name": "a", "nmae": "typo"},
        "spec": {
            "image": "nginx",
            "selector": {"names": ["n"], "bar": 1},
            "podSelector": {"matchExpressions": [{"key": "k", "operator": "Exists", "extra": 1}]},
            "completionPolicy": {"type": "Always", "deadline": 5},
        },
        "status": {"desired": 1, "conditions": [{"type": "Complete", "status": "True", "since": "x"}]},
    });
    let decoded = decode::<ImagePullJob>(&body(object), ApiVersion::V1alpha1).unwrap();
    assert_eq!(
        decoded.unknown_fields,
        vec![
            "metadata.nmae",
            "spec.completionPolicy.deadline",
            "spec.podSelector.matchExpressions[0].extra",
            "spec.selector.bar",
            "status.conditions[0].since",
            "zzz",
        ]
    );
}

#[test]
fn unknown_fields_inside_map_values_use_the_map_key_as_a_path_segment() {
    let object =
        json!({"spec": {"images": {"nginx": {"tags": [{"tag": "1", "color": "red"}], "size": 3}}}});
    let decoded = decode::<NodeImage>(&body(object), ApiVersion::V1beta1).unwrap();
    assert_eq!(
        decoded.unknown_fields,
        vec!["spec.images.nginx.size", "spec.images.nginx.tags[0].color"]
    );
}

#[test]
fn a_v1beta1_only_field_is_unknown_through_v1alpha1_and_known_through_v1beta1() {
    let object = json!({"spec": {"images": {"nginx": {"pullSecrets": [{"namespace": "ns", "name": "s", "mode": "batch"}], "tags": []}}}});
    let alpha = decode::<NodeImage>(&body(object.clone()), ApiVersion::V1alpha1).unwrap();
    assert_eq!(
        alpha.unknown_fields,
        vec!["spec.images.nginx.pullSecrets[0].mode"]
    );
    assert_eq!(
        alpha.object.spec.images["nginx"].pull_secrets[0].mode, "",
        "pruned before decoding"
    );
    let beta = decode::<NodeImage>(&body(object), ApiVersion::V1beta1).unwrap();
    assert!(beta.unknown_fields.is_empty());
    assert_eq!(
        beta.object.spec.images["nginx"].pull_secrets[0].mode,
        "batch"
    );
}

#[test]
fn duplicate_keys_are_reported_and_the_last_value_wins() {
    let raw = br#"{"spec": {"image": "busybox", "image": "nginx", "selector": {"names": ["a"], "names": ["b"]}}}"#;
    let decoded = decode::<ImagePullJob>(raw, ApiVersion::V1alpha1).unwrap();
    assert_eq!(
        decoded.duplicate_fields,
        vec!["spec.image", "spec.selector.names"]
    );
    assert!(
        decoded
            .strict_messages()
            .contains(&"duplicate field \"spec.image\"".to_owned())
    );
    assert_eq!(decoded.object.spec.image, "nginx");
    assert_eq!(
        decoded.object.spec.template.selector.unwrap().names,
        Some(vec!["b".to_owned()])
    );
}

#[test]
fn a_wrong_json_type_is_an_error_naming_the_field() {
    let err = decode::<ImagePullJob>(&body(json!({"spec": {"image": 5}})), ApiVersion::V1alpha1)
        .unwrap_err();
    let DecodeError::WrongTypes(errors) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (
            errors[0].field.as_str(),
            errors[0].expected,
            errors[0].found
        ),
        ("spec.image", "string", "integer")
    );
    assert_eq!(
        err.to_string(),
        "spec.image in body must be of type string: \"integer\""
    );
}

#[test]
fn every_wrong_type_is_reported_not_just_the_first() {
    let object = json!({"spec": {"images": "nginx", "pullPolicy": {"timeoutSeconds": "600"}, "parallelism": 1.5}});
    let DecodeError::WrongTypes(errors) =
        decode::<ImageListPullJob>(&body(object), ApiVersion::V1alpha1).unwrap_err()
    else {
        panic!("expected type errors")
    };
    let mut fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "spec.images",
            "spec.parallelism",
            "spec.pullPolicy.timeoutSeconds"
        ]
    );
}

#[test]
fn parallelism_accepts_an_integer_or_a_string() {
    for parallelism in [json!(3), json!("3"), json!("50%")] {
        let decoded = decode::<ImagePullJob>(
            &body(json!({"spec": {"image": "nginx", "parallelism": parallelism}})),
            ApiVersion::V1alpha1,
        );
        assert!(decoded.is_ok(), "{parallelism}");
    }
}

#[test]
fn an_int32_field_out_of_range_is_a_type_error() {
    let err = decode::<ImagePullJob>(
        &body(json!({"spec": {"pullPolicy": {"backoffLimit": 3_000_000_000_i64}}})),
        ApiVersion::V1alpha1,
    )
    .unwrap_err();
    let DecodeError::WrongTypes(errors) = err else {
        panic!()
    };
    assert_eq!(
        (errors[0].field.as_str(), errors[0].expected),
        ("spec.pullPolicy.backoffLimit", "int32")
    );
}

#[test]
fn null_members_are_dropped_as_if_absent() {
    let object = json!({"metadata": {"name": "a", "creationTimestamp": null}, "spec": {"image": "nginx", "selector": null}, "status": {"desired": null}});
    let decoded = decode::<ImagePullJob>(&body(object), ApiVersion::V1alpha1).unwrap();
    assert!(decoded.is_strictly_valid());
    assert!(decoded.object.spec.template.selector.is_none());
    assert_eq!(decoded.object.status.unwrap().desired, 0);
}

#[test]
fn a_malformed_timestamp_fails_typed_decoding_naming_its_field() {
    let err = decode::<ImagePullJob>(
        &body(json!({"status": {"startTime": "yesterday"}})),
        ApiVersion::V1alpha1,
    )
    .unwrap_err();
    let DecodeError::Invalid { field, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "status.startTime");
}

#[test]
fn malformed_json_and_non_objects_are_rejected() {
    assert!(matches!(
        decode::<ImagePullJob>(b"{\"spec\": ", ApiVersion::V1alpha1),
        Err(DecodeError::Syntax(_))
    ));
    assert!(matches!(
        decode::<ImagePullJob>(b"[1]", ApiVersion::V1alpha1),
        Err(DecodeError::NotAnObject("an array"))
    ));
}

#[test]
fn free_form_managed_fields_are_not_pruned() {
    let object = json!({
        "metadata": {"name": "a", "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:image": {}}}}]},
        "spec": {"image": "nginx"},
    });
    let mut value = object.clone();
    assert_eq!(
        prune::<ImagePullJob>(&mut value, ApiVersion::V1alpha1).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(value, object);
}

#[test]
fn full_fixtures_decode_strictly_in_v1beta1_and_only_lose_mode_in_v1alpha1() {
    let job = decode_value::<ImagePullJob>(
        fixtures::value("full-image-pull-job.json"),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert!(job.is_strictly_valid());
    let list = decode_value::<ImageListPullJob>(
        fixtures::value("full-image-list-pull-job.json"),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert!(list.is_strictly_valid());
    let node =
        decode_value::<NodeImage>(fixtures::value("full-node-image.json"), ApiVersion::V1beta1)
            .unwrap();
    assert!(node.is_strictly_valid());
    let node = decode_value::<NodeImage>(
        fixtures::value("full-node-image.json"),
        ApiVersion::V1alpha1,
    )
    .unwrap();
    assert_eq!(
        node.unknown_fields,
        vec!["spec.images.ghcr.io/org/app.pullSecrets[0].mode"]
    );
}
