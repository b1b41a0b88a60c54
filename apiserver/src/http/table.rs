//! `meta.k8s.io` Tables (`kubectl get`), built as kube-apiserver builds them for a custom
//! resource with printer columns: the kind's columns from [`prepull_api::columns`] (Name
//! first), `date` cells rendered as a short age ("5m", "3h"), and each row carrying the
//! object's PartialObjectMetadata, the whole object, or nothing (`includeObject`).

use prepull_api::columns::{TableRow, printer_columns};
use prepull_api::{ImageListPullJob, ImagePullJob, Kind, NodeImage};
use serde_json::{Map, Value, json};

use super::negotiate::MetaVersion;
use super::query::IncludeObject;
use super::status::ApiError;

/// How a Table is built for one response.
#[derive(Clone, Copy, Debug)]
pub struct TableOptions {
    pub kind: Kind,
    pub version: MetaVersion,
    pub include_object: IncludeObject,
    /// Whether `columnDefinitions` are sent (watches send them with the first event only).
    pub headers: bool,
    /// The time ages are computed against.
    pub now: jiff::Timestamp,
}

/// List metadata of a Table: its resourceVersion and paging state.
#[derive(Clone, Debug, Default)]
pub struct TableMeta {
    pub resource_version: String,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<u64>,
}

/// A Table of `objects` (each presented in the requested version).
pub fn table<'a>(
    options: &TableOptions,
    meta: &TableMeta,
    objects: impl IntoIterator<Item = &'a Value>,
) -> Result<Value, ApiError> {
    let rows = objects
        .into_iter()
        .map(|object| row(options, object))
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = Map::new();
    if !meta.resource_version.is_empty() {
        metadata.insert(
            "resourceVersion".into(),
            meta.resource_version.clone().into(),
        );
    }
    if let Some(token) = &meta.continue_token {
        metadata.insert("continue".into(), token.clone().into());
    }
    if let Some(count) = meta.remaining_item_count {
        metadata.insert("remainingItemCount".into(), count.into());
    }
    let columns = if options.headers {
        column_definitions(options.kind)
    } else {
        Value::Null
    };
    Ok(json!({
        "kind": "Table",
        "apiVersion": options.version.api_version(),
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }))
}

/// A Table with the one row of `object`, its resourceVersion the object's.
pub fn single_row_table(options: &TableOptions, object: &Value) -> Result<Value, ApiError> {
    let meta = TableMeta {
        resource_version: object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        ..TableMeta::default()
    };
    table(options, &meta, [object])
}

/// The column definitions of `kind`'s table.
pub fn column_definitions(kind: Kind) -> Value {
    Value::Array(
        printer_columns(kind)
            .iter()
            .map(|c| {
                json!({
                    "name": display_name(c.name),
                    "type": c.type_,
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect(),
    )
}

/// CRD printer columns keep the name they were declared with; kube-apiserver names the first
/// column `Name`. kubectl upper-cases headers either way.
fn display_name(name: &str) -> &str {
    if name == "NAME" { "Name" } else { name }
}

/// `PartialObjectMetadata` of `object`, in `version` of meta.k8s.io.
pub fn partial_object_metadata(object: &Value, version: MetaVersion) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": version.api_version(),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn row(options: &TableOptions, object: &Value) -> Result<Value, ApiError> {
    let mut cells = cells(options.kind, object)?;
    for (cell, column) in cells.iter_mut().zip(printer_columns(options.kind)) {
        if column.type_ == "date" {
            *cell = age_cell(cell, options.now);
        }
    }
    let object = match options.include_object {
        IncludeObject::Object => object.clone(),
        IncludeObject::Metadata => partial_object_metadata(object, options.version),
        IncludeObject::None => Value::Null,
    };
    Ok(json!({ "cells": cells, "object": object }))
}

fn cells(kind: Kind, object: &Value) -> Result<Vec<Value>, ApiError> {
    fn typed<T: TableRow>(object: &Value) -> Result<Vec<Value>, ApiError> {
        T::deserialize(object)
            .map(|typed| typed.cells())
            .map_err(|err| ApiError::internal(format!("stored object does not decode: {err}")))
    }
    match kind {
        Kind::ImagePullJob => typed::<ImagePullJob>(object),
        Kind::ImageListPullJob => typed::<ImageListPullJob>(object),
        Kind::NodeImage => typed::<NodeImage>(object),
    }
}

/// A `date` cell: RFC 3339 in, short age out; a missing date stays `null` (`<none>`), an
/// unreadable one is `<invalid>`, as in kube-apiserver's CRD table converter.
fn age_cell(cell: &Value, now: jiff::Timestamp) -> Value {
    let Some(text) = cell.as_str() else {
        return Value::Null;
    };
    match text.parse::<jiff::Timestamp>() {
        Ok(then) => {
            let elapsed = now.as_millisecond() - then.as_millisecond();
            Value::String(human_duration(elapsed.div_euclid(1000)))
        }
        Err(_) => Value::String("<invalid>".into()),
    }
}

/// Kubernetes' `duration.HumanDuration`: about two significant figures, e.g. `45s`, `3m20s`,
/// `15m`, `5h10m`, `2d3h`, `1y20d`. `seconds` may be slightly negative (clock skew).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl_ages() {
        assert_eq!(human_duration(-5), "<invalid>");
        assert_eq!(human_duration(-1), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(15 * 60), "15m");
        assert_eq!(human_duration(3 * 3600), "3h");
        assert_eq!(human_duration(5 * 3600 + 600), "5h10m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(51 * 3600), "2d3h");
        assert_eq!(human_duration(30 * 86400), "30d");
        assert_eq!(human_duration(750 * 86400), "2y20d");
        assert_eq!(human_duration(3000 * 86400), "8y");
    }

    fn job() -> Value {
        json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {
                "name": "job-a",
                "namespace": "default",
                "resourceVersion": "42",
                "creationTimestamp": "2024-05-01T10:00:00Z"
            },
            "spec": {"image": "nginx:1.25", "completionPolicy": {"type": "Always"}},
            "status": {"desired": 3, "active": 1, "succeeded": 2, "failed": 0}
        })
    }

    fn options(include_object: IncludeObject) -> TableOptions {
        TableOptions {
            kind: Kind::ImagePullJob,
            version: MetaVersion::V1,
            include_object,
            headers: true,
            now: "2024-05-01T10:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn an_image_pull_job_row_has_the_documented_columns_and_an_age() {
        let table = single_row_table(&options(IncludeObject::Metadata), &job()).unwrap();
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["priority"] == 0)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name", "TOTAL", "ACTIVE", "SUCCEED", "FAILED", "AGE", "MESSAGE"
            ]
        );
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "job-a");
        assert_eq!(cells[1], 3);
        assert_eq!(cells[5], "5m");
        assert_eq!(table["metadata"]["resourceVersion"], "42");
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["rows"][0]["object"]["metadata"]["name"], "job-a");
    }

    #[test]
    fn include_object_decides_what_rows_carry() {
        let whole = single_row_table(&options(IncludeObject::Object), &job()).unwrap();
        assert_eq!(whole["rows"][0]["object"]["spec"]["image"], "nginx:1.25");
        let none = single_row_table(&options(IncludeObject::None), &job()).unwrap();
        assert_eq!(none["rows"][0]["object"], Value::Null);
    }

    #[test]
    fn watch_events_after_the_first_omit_the_headers() {
        let mut opts = options(IncludeObject::Metadata);
        opts.headers = false;
        let table = single_row_table(&opts, &job()).unwrap();
        assert_eq!(table["columnDefinitions"], Value::Null);
        assert_eq!(table["rows"].as_array().unwrap().len(), 1);
    }
}
