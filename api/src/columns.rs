//! `kubectl get` columns of each kind (the server-side Table), as OpenKruise's printer
//! columns plus wide-only extras.
//!
//! [`printer_columns`] lists the column definitions, NAME first as kube-apiserver adds it for
//! custom resources; [`TableRow::cells`] computes one row's cells in the same order. Cells are
//! JSON values as they go into a `meta.k8s.io/v1` Table: integers, strings, and for `date`
//! columns the RFC 3339 timestamp (kubectl turns it into an age). A missing value is `null`,
//! which kubectl prints as `<none>`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::group::{Kind, KruiseResource};
use crate::image_list_pull_job::ImageListPullJob;
use crate::image_pull_job::ImagePullJob;
use crate::node_image::NodeImage;

/// One column of a kind's table (a `TableColumnDefinition` plus the JSON path it shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Header, e.g. `TOTAL`.
    pub name: &'static str,
    /// OpenAPI type of the cells: `integer`, `string` or `date`.
    pub type_: &'static str,
    /// OpenAPI format hint; `name` marks the object-name column, otherwise empty.
    pub format: &'static str,
    /// Where the value comes from, e.g. `.status.desired`.
    pub json_path: &'static str,
    /// What the column means (shown by `kubectl explain`-like tools).
    pub description: &'static str,
    /// 0: always shown; 1: only with `kubectl get -o wide`.
    pub priority: i32,
}

const fn column(
    name: &'static str,
    type_: &'static str,
    json_path: &'static str,
    description: &'static str,
    priority: i32,
) -> PrinterColumn {
    PrinterColumn {
        name,
        type_,
        format: "",
        json_path,
        description,
        priority,
    }
}

const NAME: PrinterColumn = PrinterColumn {
    name: "NAME",
    type_: "string",
    format: "name",
    json_path: ".metadata.name",
    description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    priority: 0,
};

const AGE: PrinterColumn = column(
    "AGE",
    "date",
    ".metadata.creationTimestamp",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.",
    0,
);

const IMAGE_PULL_JOB_COLUMNS: [PrinterColumn; 9] = [
    NAME,
    column(
        "TOTAL",
        "integer",
        ".status.desired",
        "Number of all nodes matched by this job",
        0,
    ),
    column(
        "ACTIVE",
        "integer",
        ".status.active",
        "Number of image pull task active",
        0,
    ),
    column(
        "SUCCEED",
        "integer",
        ".status.succeeded",
        "Number of image pull task succeeded",
        0,
    ),
    column(
        "FAILED",
        "integer",
        ".status.failed",
        "Number of image pull tasks failed",
        0,
    ),
    AGE,
    column(
        "MESSAGE",
        "string",
        ".status.message",
        "Summary of status when job is failed",
        0,
    ),
    column(
        "IMAGE",
        "string",
        ".spec.image",
        "Image pulled by this job",
        1,
    ),
    column(
        "PARALLELISM",
        "string",
        ".spec.parallelism",
        "Number of nodes pulling at the same time",
        1,
    ),
];

const IMAGE_LIST_PULL_JOB_COLUMNS: [PrinterColumn; 7] = [
    NAME,
    column(
        "TOTAL",
        "integer",
        ".status.desired",
        "Number of image pull job",
        0,
    ),
    column(
        "SUCCEEDED",
        "integer",
        ".status.succeeded",
        "Number of image pull job succeeded",
        0,
    ),
    column(
        "COMPLETED",
        "integer",
        ".status.completed",
        "Number of ImagePullJobs which are finished",
        0,
    ),
    AGE,
    column(
        "IMAGES",
        "string",
        ".spec.images",
        "Images pulled by this job, comma-separated",
        1,
    ),
    column(
        "PARALLELISM",
        "string",
        ".spec.parallelism",
        "Number of nodes pulling at the same time",
        1,
    ),
];

const NODE_IMAGE_COLUMNS: [PrinterColumn; 7] = [
    NAME,
    column(
        "DESIRED",
        "integer",
        ".status.desired",
        "Number of all images on this node",
        0,
    ),
    column(
        "PULLING",
        "integer",
        ".status.pulling",
        "Number of image pull task active",
        0,
    ),
    column(
        "SUCCEED",
        "integer",
        ".status.succeeded",
        "Number of image pull task succeeded",
        0,
    ),
    column(
        "FAILED",
        "integer",
        ".status.failed",
        "Number of image pull tasks failed",
        0,
    ),
    AGE,
    column(
        "WAITING",
        "integer",
        ".status.waiting",
        "Number of image pull tasks waiting to start",
        1,
    ),
];

/// The columns of `kind`'s table, in display order.
pub fn printer_columns(kind: Kind) -> &'static [PrinterColumn] {
    match kind {
        Kind::ImagePullJob => &IMAGE_PULL_JOB_COLUMNS,
        Kind::ImageListPullJob => &IMAGE_LIST_PULL_JOB_COLUMNS,
        Kind::NodeImage => &NODE_IMAGE_COLUMNS,
    }
}

/// An object that can be shown as a table row.
pub trait TableRow: KruiseResource {
    /// One cell per column of [`printer_columns`]`(Self::KIND)`, in order. A missing status
    /// shows zero counters, as OpenKruise (whose status is never absent) does.
    fn cells(&self) -> Vec<Value>;
}

impl TableRow for ImagePullJob {
    fn cells(&self) -> Vec<Value> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            name(&self.metadata),
            status.desired.into(),
            status.active.into(),
            status.succeeded.into(),
            status.failed.into(),
            age(&self.metadata),
            non_empty(status.message),
            non_empty(self.spec.image.clone()),
            parallelism(self.spec.template.parallelism.as_ref()),
        ]
    }
}

impl TableRow for ImageListPullJob {
    fn cells(&self) -> Vec<Value> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            name(&self.metadata),
            status.desired.into(),
            status.succeeded.into(),
            status.completed.into(),
            age(&self.metadata),
            non_empty(self.spec.images.join(",")),
            parallelism(self.spec.template.parallelism.as_ref()),
        ]
    }
}

impl TableRow for NodeImage {
    fn cells(&self) -> Vec<Value> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            name(&self.metadata),
            status.desired.into(),
            status.pulling.into(),
            status.succeeded.into(),
            status.failed.into(),
            age(&self.metadata),
            status.waiting.into(),
        ]
    }
}

fn name(meta: &ObjectMeta) -> Value {
    meta.name.clone().map_or(Value::Null, Value::String)
}

fn age(meta: &ObjectMeta) -> Value {
    meta.creation_timestamp
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Null)
}

fn non_empty(text: String) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    }
}

fn parallelism(value: Option<&IntOrString>) -> Value {
    match value {
        Some(IntOrString::Int(n)) => Value::String(n.to_string()),
        Some(IntOrString::String(s)) => Value::String(s.clone()),
        None => Value::Null,
    }
}
