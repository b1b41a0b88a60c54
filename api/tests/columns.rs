//! `kubectl get` tables: OpenKruise's columns in OpenKruise's order, wide extras last.

mod fixtures;

use serde_json::{Value, json};

use prepull_api::columns::{TableRow, printer_columns};
use prepull_api::{ImageListPullJob, ImagePullJob, Kind, NodeImage};

fn headers(kind: Kind, wide: bool) -> Vec<&'static str> {
    printer_columns(kind)
        .iter()
        .filter(|c| wide || c.priority == 0)
        .map(|c| c.name)
        .collect()
}

#[test]
fn default_columns_match_openkruise() {
    assert_eq!(
        headers(Kind::ImagePullJob, false),
        [
            "NAME", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE", "MESSAGE"
        ]
    );
    assert_eq!(
        headers(Kind::ImageListPullJob, false),
        ["NAME", "TOTAL", "SUCCEEDED", "COMPLETED", "AGE"]
    );
    assert_eq!(
        headers(Kind::NodeImage, false),
        ["NAME", "DESIRED", "PULLING", "SUCCEED", "FAILED", "AGE"]
    );
}

#[test]
fn wide_output_only_adds_columns_after_the_default_ones() {
    assert_eq!(
        headers(Kind::ImagePullJob, true),
        [
            "NAME",
            "TOTAL",
            "ACTIVE",
            "SUCCEED",
            "FAILED",
            "AGE",
            "MESSAGE",
            "IMAGE",
            "PARALLELISM"
        ]
    );
    assert_eq!(
        headers(Kind::ImageListPullJob, true)[5..],
        ["IMAGES", "PARALLELISM"]
    );
}

#[test]
fn column_definitions_carry_type_path_and_description() {
    let total = &printer_columns(Kind::ImagePullJob)[1];
    assert_eq!(
        (total.type_, total.json_path),
        ("integer", ".status.desired")
    );
    assert_eq!(total.description, "Number of all nodes matched by this job");
    let age = printer_columns(Kind::NodeImage)
        .iter()
        .find(|c| c.name == "AGE")
        .unwrap();
    assert_eq!(
        (age.type_, age.json_path),
        ("date", ".metadata.creationTimestamp")
    );
    assert_eq!(printer_columns(Kind::NodeImage)[0].format, "name");
}

#[test]
fn an_image_pull_job_row_shows_its_counters_age_and_message() {
    let job: ImagePullJob =
        serde_json::from_value(fixtures::value("full-image-pull-job.json")).unwrap();
    assert_eq!(
        job.cells(),
        vec![
            json!("pull-nginx"),
            json!(4),
            json!(0),
            json!(3),
            json!(1),
            json!("2024-08-09T10:03:50Z"),
            json!("job has completed"),
            json!("ghcr.io/org/nginx:1.9.1"),
            json!("2"),
        ]
    );
}

#[test]
fn a_job_without_status_shows_zero_counters_and_no_message() {
    let job = ImagePullJob::new("fresh", Default::default());
    let cells = job.cells();
    assert_eq!(cells.len(), printer_columns(Kind::ImagePullJob).len());
    assert_eq!(cells[1..5], [json!(0), json!(0), json!(0), json!(0)]);
    assert_eq!(cells[5], Value::Null, "no creation time yet");
    assert_eq!(cells[6], Value::Null);
}

#[test]
fn list_job_and_node_image_rows_have_one_cell_per_column() {
    let list: ImageListPullJob =
        serde_json::from_value(fixtures::value("full-image-list-pull-job.json")).unwrap();
    assert_eq!(
        list.cells(),
        vec![
            json!("pull-many"),
            json!(2),
            json!(1),
            json!(2),
            json!("2024-08-09T10:03:50Z"),
            json!("nginx:1.9.1,busybox:1.29.2"),
            json!("10"),
        ]
    );
    let node: NodeImage = serde_json::from_value(fixtures::value("full-node-image.json")).unwrap();
    assert_eq!(
        node.cells(),
        vec![
            json!("node-1"),
            json!(2),
            json!(1),
            json!(1),
            json!(0),
            json!("2024-08-09T10:00:00Z"),
            json!(0)
        ]
    );
}
