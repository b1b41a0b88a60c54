//! Response content negotiation: from the `Accept` header, which serialization (JSON or YAML)
//! and which shape (the object itself, a `Table`, `PartialObjectMetadata[List]`) a client
//! gets, as kube-apiserver decides it for a custom resource.
//!
//! Media ranges are tried in `q` order, first listed first among equals. A range we cannot
//! produce (protobuf, CBOR, an unknown `as=` target) is skipped, so `application/vnd.kubernetes.
//! protobuf, application/json` gets JSON exactly as it does from kube-apiserver for a custom
//! resource; when nothing is left the answer is 406. Watches are streamed as JSON only (YAML
//! has no stream framing in Kubernetes either).

use axum::http::HeaderValue;

use super::status::ApiError;

/// Media types a response can be serialized as, for 406 messages.
pub const ACCEPTED_MEDIA_TYPES: &[&str] = &["application/json", "application/yaml"];
/// Media types a watch can be streamed as, for 406 messages.
pub const ACCEPTED_STREAM_MEDIA_TYPES: &[&str] =
    &["application/json", "application/json;stream=watch"];

/// The serialization of a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        }
    }
}

/// A version of the `meta.k8s.io` group, in which Tables and PartialObjectMetadata exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaVersion {
    V1,
    V1beta1,
}

impl MetaVersion {
    /// The `apiVersion` of objects of this group version, e.g. `meta.k8s.io/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            MetaVersion::V1 => "meta.k8s.io/v1",
            MetaVersion::V1beta1 => "meta.k8s.io/v1beta1",
        }
    }

    fn from_version(version: &str) -> Option<MetaVersion> {
        match version {
            "v1" => Some(MetaVersion::V1),
            "v1beta1" => Some(MetaVersion::V1beta1),
            _ => None,
        }
    }
}

/// What a response body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The object (or list) in the version of the URL.
    Object,
    /// A `Table` with the kind's printer columns (`kubectl get`).
    Table(MetaVersion),
    /// Only the metadata of one object (metadata informers, the garbage collector).
    PartialObjectMetadata(MetaVersion),
    /// Only the metadata of every item of a list.
    PartialObjectMetadataList(MetaVersion),
}

/// What the request will return, which decides which shapes make sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// One object (get, create, update, patch, delete).
    Object,
    /// A list (list, deletecollection).
    List,
    /// A stream of watch events, each carrying one object.
    Watch,
}

/// The negotiated response representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Output {
    pub format: Format,
    pub shape: Shape,
}

impl Output {
    /// Plain JSON of the object: what a client without an `Accept` header gets.
    pub const JSON: Output = Output {
        format: Format::Json,
        shape: Shape::Object,
    };
}

/// Chooses the representation of a response to a request with this `Accept` header.
///
/// Errors are 406 NotAcceptable with kube-apiserver's texts: no acceptable media type, or a
/// shape that does not fit the endpoint (`PartialObjectMetadata` of a list and the like).
pub fn negotiate(accept: Option<&HeaderValue>, endpoint: Endpoint) -> Result<Output, ApiError> {
    let accept = accept.and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let output = if accept.is_empty() {
        Output::JSON
    } else {
        let streaming = endpoint == Endpoint::Watch;
        let mut ranges: Vec<MediaRange<'_>> =
            accept.split(',').filter_map(MediaRange::parse).collect();
        // Stable: equal weights keep the client's order.
        ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
        ranges
            .iter()
            .filter(|r| r.q > 0.0)
            .find_map(|r| r.output(streaming))
            .ok_or_else(|| {
                ApiError::not_acceptable(if streaming {
                    ACCEPTED_STREAM_MEDIA_TYPES
                } else {
                    ACCEPTED_MEDIA_TYPES
                })
            })?
    };
    check_shape(output.shape, endpoint)?;
    Ok(output)
}

/// kube-apiserver negotiates first and then finds out the shape cannot be produced.
fn check_shape(shape: Shape, endpoint: Endpoint) -> Result<(), ApiError> {
    let not_acceptable = |message: &str| Err(ApiError::not_acceptable_because(message));
    match (shape, endpoint) {
        (Shape::PartialObjectMetadata(_), Endpoint::List) => not_acceptable(
            "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)",
        ),
        (Shape::PartialObjectMetadataList(_), Endpoint::Object | Endpoint::Watch) => {
            not_acceptable(
                "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)",
            )
        }
        _ => Ok(()),
    }
}

/// One element of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    type_: &'a str,
    subtype: &'a str,
    /// `as`, `g`, `v` parameters (conversion target).
    target_kind: Option<&'a str>,
    target_group: Option<&'a str>,
    target_version: Option<&'a str>,
    stream: Option<&'a str>,
    q: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> Option<MediaRange<'a>> {
        let mut parts = text.split(';').map(str::trim);
        let (type_, subtype) = parts.next()?.split_once('/')?;
        let mut range = MediaRange {
            type_: type_.trim(),
            subtype: subtype.trim(),
            target_kind: None,
            target_group: None,
            target_version: None,
            stream: None,
            q: 1.0,
        };
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim() {
                "as" => range.target_kind = Some(value),
                "g" => range.target_group = Some(value),
                "v" => range.target_version = Some(value),
                "stream" => range.stream = Some(value),
                "q" => range.q = value.parse().unwrap_or(0.0),
                _ => {}
            }
        }
        Some(range)
    }

    /// What this range selects, or `None` when we cannot produce it.
    fn output(&self, streaming: bool) -> Option<Output> {
        let format = match (self.type_, self.subtype) {
            ("*", "*") | ("application", "*") | ("application", "json") => Format::Json,
            ("application", "yaml") if !streaming => Format::Yaml,
            _ => return None,
        };
        match self.stream {
            None => {}
            Some("watch") if streaming => {}
            Some(_) => return None,
        }
        let shape = match self.target_kind {
            None => Shape::Object,
            Some(kind) => {
                if self.target_group != Some("meta.k8s.io") {
                    return None;
                }
                let version = MetaVersion::from_version(self.target_version?)?;
                match kind {
                    "Table" => Shape::Table(version),
                    "PartialObjectMetadata" => Shape::PartialObjectMetadata(version),
                    "PartialObjectMetadataList" => Shape::PartialObjectMetadataList(version),
                    _ => return None,
                }
            }
        };
        Some(Output { format, shape })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str, endpoint: Endpoint) -> Result<Output, ApiError> {
        negotiate(Some(&HeaderValue::from_str(accept).unwrap()), endpoint)
    }

    #[test]
    fn no_accept_header_means_json() {
        assert_eq!(negotiate(None, Endpoint::Object).unwrap(), Output::JSON);
        assert_eq!(pick("*/*", Endpoint::List).unwrap(), Output::JSON);
    }

    #[test]
    fn kubectl_get_receives_a_v1_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            pick(accept, Endpoint::List).unwrap().shape,
            Shape::Table(MetaVersion::V1)
        );
        assert_eq!(
            pick(accept, Endpoint::Watch).unwrap().shape,
            Shape::Table(MetaVersion::V1)
        );
    }

    #[test]
    fn protobuf_is_skipped_in_favour_of_json_but_alone_is_not_acceptable() {
        let metadata = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(
            pick(metadata, Endpoint::List).unwrap(),
            Output {
                format: Format::Json,
                shape: Shape::PartialObjectMetadataList(MetaVersion::V1)
            }
        );
        let err = pick("application/vnd.kubernetes.protobuf", Endpoint::Object).unwrap_err();
        assert_eq!(err.code.as_u16(), 406);
        assert_eq!(
            err.message,
            "only the following media types are accepted: application/json, application/yaml"
        );
    }

    #[test]
    fn yaml_is_served_but_not_streamed() {
        assert_eq!(
            pick("application/yaml", Endpoint::Object).unwrap().format,
            Format::Yaml
        );
        assert_eq!(
            pick("application/yaml", Endpoint::Watch)
                .unwrap_err()
                .code
                .as_u16(),
            406
        );
        assert_eq!(
            pick("application/yaml, application/json", Endpoint::Watch)
                .unwrap()
                .format,
            Format::Json
        );
    }

    #[test]
    fn partial_object_metadata_of_a_list_is_not_acceptable() {
        let err = pick(
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
            Endpoint::List,
        )
        .unwrap_err();
        assert_eq!(err.code.as_u16(), 406);
        assert!(err.message.starts_with(
            "you requested PartialObjectMetadata, but the requested object is a list"
        ));
    }

    #[test]
    fn unknown_conversion_targets_and_groups_are_skipped() {
        assert_eq!(
            pick(
                "application/json;as=Table;g=example.com;v=v1",
                Endpoint::Object
            )
            .unwrap_err()
            .code
            .as_u16(),
            406
        );
        assert_eq!(
            pick(
                "application/json;as=Foo;g=meta.k8s.io;v=v1, application/yaml",
                Endpoint::Object
            )
            .unwrap()
            .format,
            Format::Yaml
        );
    }

    #[test]
    fn higher_quality_wins_over_order() {
        assert_eq!(
            pick("application/json;q=0.5, application/yaml", Endpoint::Object)
                .unwrap()
                .format,
            Format::Yaml
        );
    }
}
