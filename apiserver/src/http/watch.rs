//! Watch responses: a chunked stream of JSON lines `{"type":...,"object":...}`, one per event,
//! as kube-apiserver streams them.
//!
//! Each event is serialized once per representation and the bytes are shared by every watcher
//! that asked for the same one ([`EncodedEvents`]): with a thousand watchers on one resource a
//! change costs one serialization, not a thousand. The stream ends, cleanly, when the watch's
//! timeout passes, when the server shuts down, or after an ERROR event (e.g. 410 Expired for
//! a resourceVersion that is no longer retained).

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use prepull_api::{ApiVersion, Kind};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::handlers::respond::{Presenter, encode};
use super::negotiate::{Format, MetaVersion, Shape};
use super::query::IncludeObject;
use super::status::ApiError;
use super::table::{self, TableMeta};
use crate::registry::{Object, WatchEventType, WatchItem, WatchItems};

/// Annotation on the BOOKMARK that ends the initial events of a watch-list.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// How many encoded events are kept for other watchers to reuse.
const ENCODED_EVENTS_CAPACITY: usize = 4096;

/// The watch event types on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// Identity of one encoded event line: which event, in which representation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    kind: Kind,
    namespace: String,
    name: String,
    resource_version: String,
    event_type: EventType,
    version: ApiVersion,
    shape: Shape,
    include_object: IncludeObject,
    /// Table events: whether column definitions are included.
    headers: bool,
}

/// A bounded cache of encoded event lines shared by all watchers of the server.
#[derive(Debug, Default)]
pub struct EncodedEvents {
    inner: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    lines: HashMap<EventKey, Bytes>,
    order: VecDeque<EventKey>,
}

impl EncodedEvents {
    pub fn new() -> Arc<EncodedEvents> {
        Arc::new(EncodedEvents::default())
    }

    fn get_or_encode(
        &self,
        key: EventKey,
        encode: impl FnOnce() -> Result<Bytes, ApiError>,
    ) -> Result<Bytes, ApiError> {
        if let Some(line) = self.inner.lock().lines.get(&key) {
            return Ok(line.clone());
        }
        // Encoded outside the lock: two watchers may race and both encode; both results are
        // equal and either may stay.
        let line = encode()?;
        let mut cache = self.inner.lock();
        if cache.lines.insert(key.clone(), line.clone()).is_none() {
            cache.order.push_back(key);
            while cache.order.len() > ENCODED_EVENTS_CAPACITY {
                if let Some(old) = cache.order.pop_front() {
                    cache.lines.remove(&old);
                }
            }
        }
        Ok(line)
    }

    /// How many lines are cached (for tests).
    pub fn len(&self) -> usize {
        self.inner.lock().lines.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes the events of one watch.
#[derive(Debug)]
pub struct WatchEncoder {
    presenter: Presenter,
    shared: Arc<EncodedEvents>,
    /// Table watches send column definitions with the first event only.
    headers_sent: bool,
}

impl WatchEncoder {
    /// An encoder for a watch presented by `presenter` (JSON; any shape but lists).
    pub fn new(presenter: Presenter, shared: Arc<EncodedEvents>) -> WatchEncoder {
        WatchEncoder {
            presenter,
            shared,
            headers_sent: false,
        }
    }

    /// The line of an ADDED, MODIFIED or DELETED event.
    pub fn event(&mut self, event_type: EventType, object: &Object) -> Result<Bytes, ApiError> {
        let headers = matches!(self.presenter.output.shape, Shape::Table(_)) && !self.headers_sent;
        let key = EventKey {
            kind: self.presenter.kind,
            namespace: object.namespace().to_string(),
            name: object.name().to_string(),
            resource_version: object.resource_version().to_string(),
            event_type,
            version: self.presenter.version,
            shape: self.presenter.output.shape,
            include_object: self.presenter.include_object,
            headers,
        };
        let presenter = self.presenter;
        let line = self.shared.get_or_encode(key, || {
            let body = match presenter.output.shape {
                Shape::Object => presenter.object_json(object),
                Shape::Table(version) => {
                    let options = presenter.table_options(version, headers);
                    let table = table::single_row_table(&options, &presenter.object_value(object))?;
                    encode(&table, Format::Json)?
                }
                Shape::PartialObjectMetadata(version)
                | Shape::PartialObjectMetadataList(version) => encode(
                    &table::partial_object_metadata(object.value(), version),
                    Format::Json,
                )?,
            };
            Ok(line(event_type, &body))
        })?;
        if headers {
            self.headers_sent = true;
        }
        Ok(line)
    }

    /// A BOOKMARK at `resource_version`; `initial_events_end` marks the end of a watch-list's
    /// initial events.
    pub fn bookmark(&self, resource_version: &str, initial_events_end: bool) -> Bytes {
        let mut metadata =
            json!({ "resourceVersion": resource_version, "creationTimestamp": null });
        if initial_events_end {
            metadata["annotations"] = json!({ INITIAL_EVENTS_END: "true" });
        }
        let object = match self.presenter.output.shape {
            Shape::Object => json!({
                "kind": self.presenter.kind.name(),
                "apiVersion": self.presenter.version.api_version(),
                "metadata": metadata,
            }),
            Shape::PartialObjectMetadata(version) | Shape::PartialObjectMetadataList(version) => {
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": version.api_version(),
                    "metadata": metadata,
                })
            }
            Shape::Table(version) => empty_table(version, resource_version),
        };
        line(
            EventType::Bookmark,
            &serde_json::to_vec(&object).expect("JSON values serialize"),
        )
    }

    /// An ERROR event carrying `error`'s Status.
    pub fn error(&self, error: &ApiError) -> Bytes {
        line(
            EventType::Error,
            &serde_json::to_vec(&error.status()).expect("statuses serialize"),
        )
    }
}

fn empty_table(version: MetaVersion, resource_version: &str) -> Value {
    let meta = TableMeta {
        resource_version: resource_version.to_string(),
        ..TableMeta::default()
    };
    json!({
        "kind": "Table",
        "apiVersion": version.api_version(),
        "metadata": { "resourceVersion": meta.resource_version },
        "columnDefinitions": null,
        "rows": [],
    })
}

/// `{"type":"<TYPE>","object":<object>}\n`.
fn line(event_type: EventType, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(event_type.as_str().as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

/// The body of a watch response: the encoded `items`, until the stream ends, `timeout` passes
/// or `shutdown` is cancelled; an ERROR item is sent and ends the stream.
pub fn stream_body(
    items: WatchItems,
    encoder: WatchEncoder,
    timeout: Duration,
    shutdown: CancellationToken,
) -> Body {
    let state = StreamState {
        items,
        encoder,
        deadline: tokio::time::Instant::now() + timeout,
        shutdown,
        finished: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        let item = tokio::select! {
            biased;
            () = state.shutdown.cancelled() => return None,
            () = tokio::time::sleep_until(state.deadline) => return None,
            item = state.items.next() => item?,
        };
        let line = state.encode(item);
        Some((Ok::<Bytes, Infallible>(line), state))
    });
    Body::from_stream(stream)
}

struct StreamState {
    items: WatchItems,
    encoder: WatchEncoder,
    deadline: tokio::time::Instant,
    shutdown: CancellationToken,
    /// Set after an ERROR event: nothing follows it.
    finished: bool,
}

impl StreamState {
    fn encode(&mut self, item: WatchItem) -> Bytes {
        let encoded = match item {
            WatchItem::Event { event_type, object } => {
                let event_type = match event_type {
                    WatchEventType::Added => EventType::Added,
                    WatchEventType::Modified => EventType::Modified,
                    WatchEventType::Deleted => EventType::Deleted,
                };
                self.encoder.event(event_type, &object)
            }
            WatchItem::Bookmark { resource_version } => {
                Ok(self.encoder.bookmark(&resource_version.to_string(), false))
            }
            WatchItem::InitialEventsEnd { resource_version } => {
                Ok(self.encoder.bookmark(&resource_version.to_string(), true))
            }
            WatchItem::Error(err) => Err(err),
        };
        encoded.unwrap_or_else(|err| {
            self.finished = true;
            self.encoder.error(&err)
        })
    }
}

/// How long a watch lasts: `timeoutSeconds` when given (and positive), otherwise a random
/// duration in `[min, 2*min)` like kube-apiserver, so that clients do not all re-watch at once.
pub fn watch_timeout(timeout_seconds: Option<u64>, min_request_timeout: Duration) -> Duration {
    match timeout_seconds {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds),
        _ => min_request_timeout.mul_f64(1.0 + fastrand::f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::negotiate::Output;

    fn presenter(shape: Shape) -> Presenter {
        Presenter {
            kind: Kind::NodeImage,
            version: ApiVersion::V1alpha1,
            output: Output {
                format: Format::Json,
                shape,
            },
            include_object: IncludeObject::Metadata,
        }
    }

    fn node(rv: &str) -> Object {
        let value = json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": "node-1", "resourceVersion": rv, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {}
        });
        Object::new(value, None)
    }

    #[test]
    fn an_event_is_one_json_line_sharing_the_object_bytes_across_watchers() {
        let shared = EncodedEvents::new();
        let mut a = WatchEncoder::new(presenter(Shape::Object), shared.clone());
        let mut b = WatchEncoder::new(presenter(Shape::Object), shared.clone());
        let object = node("5");
        let first = a.event(EventType::Modified, &object).unwrap();
        let second = b.event(EventType::Modified, &object).unwrap();
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "the second watcher reuses the bytes"
        );
        assert!(first.ends_with(b"\n"));
        let parsed: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(parsed["type"], "MODIFIED");
        assert_eq!(parsed["object"]["metadata"]["resourceVersion"], "5");
        assert_eq!(shared.len(), 1);
    }

    #[test]
    fn table_watches_send_column_definitions_once() {
        let mut encoder = WatchEncoder::new(
            presenter(Shape::Table(MetaVersion::V1)),
            EncodedEvents::new(),
        );
        let first: Value =
            serde_json::from_slice(&encoder.event(EventType::Added, &node("5")).unwrap()).unwrap();
        let second: Value =
            serde_json::from_slice(&encoder.event(EventType::Modified, &node("6")).unwrap())
                .unwrap();
        assert_eq!(first["object"]["kind"], "Table");
        assert!(first["object"]["columnDefinitions"].is_array());
        assert_eq!(second["object"]["columnDefinitions"], Value::Null);
        assert_eq!(second["object"]["rows"][0]["cells"][0], "node-1");
    }

    #[test]
    fn the_initial_events_end_bookmark_is_annotated() {
        let encoder = WatchEncoder::new(presenter(Shape::Object), EncodedEvents::new());
        let parsed: Value = serde_json::from_slice(&encoder.bookmark("9", true)).unwrap();
        assert_eq!(parsed["type"], "BOOKMARK");
        assert_eq!(parsed["object"]["kind"], "NodeImage");
        assert_eq!(parsed["object"]["metadata"]["resourceVersion"], "9");
        assert_eq!(
            parsed["object"]["metadata"]["annotations"][INITIAL_EVENTS_END],
            "true"
        );
    }

    #[test]
    fn watches_without_a_timeout_last_between_one_and_two_minimum_timeouts() {
        let min = Duration::from_secs(1800);
        for _ in 0..100 {
            let t = watch_timeout(None, min);
            assert!(t >= min && t < min * 2, "{t:?}");
        }
        assert_eq!(watch_timeout(Some(5), min), Duration::from_secs(5));
    }
}
