//! Turning registry results into responses: objects and lists presented in the URL's version,
//! in the negotiated format and shape, with `Warning` headers.
//!
//! The registry hands out objects in the stored form (the preferred version's JSON) together
//! with their serialized bytes. When the requested version presents an object exactly as
//! stored, those bytes are sent as they are: no parse, no re-serialization. Lists are
//! assembled around the items' bytes the same way.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use prepull_api::versions::present_value;
use prepull_api::{ApiVersion, Kind};
use serde_json::{Map, Value, json};

use crate::http::negotiate::{Format, MetaVersion, Output, Shape};
use crate::http::query::IncludeObject;
use crate::http::status::ApiError;
use crate::http::table::{self, TableMeta, TableOptions};
use crate::registry::{Object, ObjectList};

/// How objects of one request are presented.
#[derive(Clone, Copy, Debug)]
pub struct Presenter {
    pub kind: Kind,
    /// The version of the URL.
    pub version: ApiVersion,
    pub output: Output,
    pub include_object: IncludeObject,
}

impl Presenter {
    /// The object presented in the URL's version, as JSON bytes: the stored bytes when the
    /// presentation changes nothing.
    pub fn object_json(&self, object: &Object) -> Bytes {
        presented_json(self.kind, self.version, object)
    }

    /// The object presented in the URL's version, as a value.
    pub fn object_value(&self, object: &Object) -> Value {
        let mut value = (*object.value()).clone();
        present_value(self.kind, &mut value, self.version);
        value
    }

    /// A response with one object (get, create, update, patch, delete).
    pub fn object(&self, status: StatusCode, object: &Object, warnings: &[String]) -> Response {
        let body = match (self.output.shape, self.output.format) {
            (Shape::Object, Format::Json) => Ok(self.object_json(object)),
            (Shape::Object, Format::Yaml) => yaml(&self.object_value(object)),
            (Shape::Table(version), format) => table::single_row_table(
                &self.table_options(version, true),
                &self.object_value(object),
            )
            .and_then(|t| encode(&t, format)),
            (Shape::PartialObjectMetadata(version), format) => encode(
                &table::partial_object_metadata(object.value(), version),
                format,
            ),
            (Shape::PartialObjectMetadataList(_), _) => Err(ApiError::not_acceptable_because(
                "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)",
            )),
        };
        match body {
            Ok(body) => with_warnings(bytes_response(status, self.output.format, body), warnings),
            Err(err) => err.into_response(),
        }
    }

    /// A response with a list (list, deletecollection).
    pub fn list(&self, list: &ObjectList) -> Response {
        let meta = TableMeta {
            resource_version: list.resource_version.clone(),
            continue_token: list.continue_token.clone(),
            remaining_item_count: list.remaining_item_count,
        };
        let body = match (self.output.shape, self.output.format) {
            (Shape::Object, Format::Json) => Ok(self.list_json(list)),
            (Shape::Object, Format::Yaml) => {
                let items: Vec<Value> = list.items.iter().map(|o| self.object_value(o)).collect();
                yaml(&list_value(
                    self.version.api_version(),
                    self.kind.info().list_name,
                    &meta,
                    items,
                ))
            }
            (Shape::Table(version), format) => {
                let items: Vec<Value> = list.items.iter().map(|o| self.object_value(o)).collect();
                table::table(&self.table_options(version, true), &meta, &items)
                    .and_then(|t| encode(&t, format))
            }
            (Shape::PartialObjectMetadataList(version), format) => {
                let items: Vec<Value> = list
                    .items
                    .iter()
                    .map(|o| table::partial_object_metadata(o.value(), version))
                    .collect();
                encode(
                    &list_value(
                        version.api_version(),
                        "PartialObjectMetadataList",
                        &meta,
                        items,
                    ),
                    format,
                )
            }
            (Shape::PartialObjectMetadata(_), _) => Err(ApiError::not_acceptable_because(
                "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)",
            )),
        };
        match body {
            Ok(body) => bytes_response(StatusCode::OK, self.output.format, body),
            Err(err) => err.into_response(),
        }
    }

    /// Table options for this request; `headers` says whether column definitions are sent.
    pub fn table_options(&self, version: MetaVersion, headers: bool) -> TableOptions {
        TableOptions {
            kind: self.kind,
            version,
            include_object: self.include_object,
            headers,
            now: jiff::Timestamp::now(),
        }
    }

    /// A JSON list assembled around the items' (presented) bytes.
    fn list_json(&self, list: &ObjectList) -> Bytes {
        let items: Vec<Bytes> = list.items.iter().map(|o| self.object_json(o)).collect();
        let size = items.iter().map(Bytes::len).sum::<usize>() + items.len() + 256;
        let mut out = BytesMut::with_capacity(size);
        out.put_slice(b"{\"kind\":");
        put_json_str(&mut out, self.kind.info().list_name);
        out.put_slice(b",\"apiVersion\":");
        put_json_str(&mut out, self.version.api_version());
        out.put_slice(b",\"metadata\":");
        out.put_slice(
            &serde_json::to_vec(&list_metadata(&TableMeta {
                resource_version: list.resource_version.clone(),
                continue_token: list.continue_token.clone(),
                remaining_item_count: list.remaining_item_count,
            }))
            .expect("metadata serializes"),
        );
        out.put_slice(b",\"items\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            out.put_slice(item);
        }
        out.put_slice(b"]}");
        out.freeze()
    }
}

/// `object` presented in `version` as JSON: the stored bytes when presenting changes nothing
/// (same `apiVersion`, nothing to drop), otherwise the presented value serialized.
pub fn presented_json(kind: Kind, version: ApiVersion, object: &Object) -> Bytes {
    if bytes_present_as_stored(kind, version, object.bytes())
        || presents_as_stored(kind, version, object.value())
    {
        return object.bytes().clone();
    }
    let mut value = (*object.value()).clone();
    present_value(kind, &mut value, version);
    Bytes::from(serde_json::to_vec(&value).expect("JSON values serialize"))
}

/// A quick look at the JSON for the common case, without parsing it: the object starts with
/// the requested `apiVersion` and `kind` (as the serialized stored form does), and nothing in it
/// could be a NodeImage pull-secret `mode` v1alpha1 would drop. `false` means "look closer".
fn bytes_present_as_stored(kind: Kind, version: ApiVersion, bytes: &[u8]) -> bool {
    let head = format!(
        "{{\"apiVersion\":\"{}\",\"kind\":\"{}\",",
        version.api_version(),
        kind.name()
    );
    if !bytes.starts_with(head.as_bytes()) {
        return false;
    }
    let may_have_mode = kind == Kind::NodeImage
        && version == ApiVersion::V1alpha1
        && bytes.windows(7).any(|w| w == b"\"mode\":");
    !may_have_mode
}

fn presents_as_stored(kind: Kind, version: ApiVersion, value: &Value) -> bool {
    let same_type = value.get("apiVersion").and_then(Value::as_str) == Some(version.api_version())
        && value.get("kind").and_then(Value::as_str) == Some(kind.name());
    if !same_type {
        return false;
    }
    // v1alpha1 does not serve NodeImage pull-secret `mode`: present_value drops it.
    if kind == Kind::NodeImage && version == ApiVersion::V1alpha1 {
        let has_mode = value
            .pointer("/spec/images")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|images| images.values())
            .filter_map(|image| image.get("pullSecrets").and_then(Value::as_array))
            .flatten()
            .any(|secret| secret.get("mode").is_some());
        return !has_mode;
    }
    true
}

/// A list document.
pub fn list_value(api_version: &str, kind: &str, meta: &TableMeta, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": list_metadata(meta),
        "items": items,
    })
}

fn list_metadata(meta: &TableMeta) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".into(),
        meta.resource_version.clone().into(),
    );
    if let Some(token) = &meta.continue_token {
        metadata.insert("continue".into(), token.clone().into());
    }
    if let Some(count) = meta.remaining_item_count {
        metadata.insert("remainingItemCount".into(), count.into());
    }
    Value::Object(metadata)
}

fn put_json_str(out: &mut BytesMut, s: &str) {
    out.put_slice(&serde_json::to_vec(s).expect("strings serialize"));
}

/// Serializes `value` in `format`.
pub fn encode(value: &Value, format: Format) -> Result<Bytes, ApiError> {
    match format {
        Format::Json => Ok(Bytes::from(
            serde_json::to_vec(value).expect("JSON values serialize"),
        )),
        Format::Yaml => yaml(value),
    }
}

fn yaml(value: &Value) -> Result<Bytes, ApiError> {
    serde_norway::to_string(value)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

/// A response with `body` in `format`.
pub fn bytes_response(status: StatusCode, format: Format, body: Bytes) -> Response {
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// Adds one `Warning: 299 - "<text>"` header per warning, as kube-apiserver sends them.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for text in warnings {
        if let Ok(value) = HeaderValue::from_str(&warning_header(text)) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// `299 - "<text>"` with `"` and `\` escaped and control characters replaced by spaces.
pub fn warning_header(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 10);
    quoted.push_str("299 - \"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_control() => quoted.push(' '),
            c if !c.is_ascii() => quoted.push('?'),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_quoted_like_kube_apiserver_does() {
        assert_eq!(
            warning_header("unknown field \"spec.foo\""),
            r#"299 - "unknown field \"spec.foo\"""#
        );
    }

    #[test]
    fn a_node_image_with_a_secret_mode_is_not_sent_as_stored_to_v1alpha1_clients() {
        let stored = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": "n"},
            "spec": {"images": {"nginx": {"pullSecrets": [{"name": "s", "namespace": "d", "mode": "Auto"}]}}}
        });
        assert!(!presents_as_stored(
            Kind::NodeImage,
            ApiVersion::V1alpha1,
            &stored
        ));
        assert!(!presents_as_stored(
            Kind::NodeImage,
            ApiVersion::V1beta1,
            &stored
        ));
        let mut plain = stored.clone();
        plain["spec"]["images"]["nginx"]["pullSecrets"][0]
            .as_object_mut()
            .unwrap()
            .remove("mode");
        assert!(presents_as_stored(
            Kind::NodeImage,
            ApiVersion::V1alpha1,
            &plain
        ));
    }

    #[test]
    fn the_quick_look_at_the_bytes_never_passes_what_the_value_check_refuses() {
        let stored = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": "n"},
            "spec": {"images": {"nginx": {"pullSecrets": [{"name": "s", "namespace": "d", "mode": "Auto"}]}}}
        });
        let bytes = serde_json::to_vec(&stored).unwrap();
        assert!(!bytes_present_as_stored(
            Kind::NodeImage,
            ApiVersion::V1alpha1,
            &bytes
        ));
        assert!(!bytes_present_as_stored(
            Kind::NodeImage,
            ApiVersion::V1beta1,
            &bytes
        ));
        let job = json!({"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob", "metadata": {}});
        let bytes = serde_json::to_vec(&job).unwrap();
        assert!(bytes_present_as_stored(
            Kind::ImagePullJob,
            ApiVersion::V1alpha1,
            &bytes
        ));
        assert!(!bytes_present_as_stored(
            Kind::NodeImage,
            ApiVersion::V1alpha1,
            &bytes
        ));
    }
}
