//! Watch: a stream of changes to the objects a request selects.
//!
//! The stream starts with ADDED events for the current objects (resourceVersion unset or `0`,
//! or `sendInitialEvents=true`, whose end a BOOKMARK marks when bookmarks are allowed), or
//! with the changes after a given resourceVersion. Selectors apply per event with Kubernetes'
//! semantics: an object that stops matching is DELETED for this watcher, one that starts
//! matching is ADDED. With bookmarks allowed and an interval set, a quiet stream emits
//! BOOKMARKs carrying the revision up to which every change has been delivered. A
//! resourceVersion older than the retained history ends the stream with a 410 ERROR item,
//! as does a watcher that falls behind it.

use futures::StreamExt;
use futures::stream::BoxStream;
use prepull_api::Kind;
use prepull_storage::cache::{CacheWatchItem, CacheWatchStream};
use prepull_storage::{EventType, ListOptions, Revision, StorageError, WatchEvent};

use super::errors::{self, During};
use super::object::{Object, set_resource_version};
use super::params::WatchParams;
use super::read_revision::{self, ReadRevision, WatchStart};
use super::selectors::Selectors;
use super::store::ResourceStore;
use crate::http::status::ApiError;

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

impl WatchEventType {
    /// The wire name: `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
        }
    }
}

/// One item of a watch stream.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchItem {
    /// A change to an object (for DELETED: its last state, with the delete's revision).
    Event {
        event_type: WatchEventType,
        object: Object,
    },
    /// Every change up to `resource_version` has been delivered: send a BOOKMARK.
    Bookmark { resource_version: Revision },
    /// The initial ADDED events are complete: send a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`.
    InitialEventsEnd { resource_version: Revision },
    /// The watch cannot go on (410 Expired, 500, 503): send an ERROR event; the stream ends.
    Error(ApiError),
}

/// A watch stream. It ends after an [`WatchItem::Error`], or when the storage goes away.
pub type WatchItems = BoxStream<'static, WatchItem>;

impl ResourceStore {
    /// Watches objects in `namespace` (`None`: every namespace, or a cluster-scoped kind).
    /// Errors before the stream starts: 400 (selectors, resourceVersion), 422 (option
    /// combinations Kubernetes forbids), 504 (a resourceVersion the store has not reached).
    pub async fn watch(
        &self,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchItems, ApiError> {
        let start = read_revision::for_watch(params)?;
        let selectors = Selectors::parse(
            self.kind,
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
        )?;
        let prefix = self.selection_prefix(namespace, &selectors);
        let (initial, initial_end, after) = match start {
            WatchStart::InitialEvents { read, end_bookmark } => {
                let (objects, revision) = self.initial_objects(&prefix, read, &selectors).await?;
                (objects, end_bookmark.then_some(revision), revision)
            }
            WatchStart::After(Some(revision)) => {
                self.require_revision(revision).await?;
                (Vec::new(), None, revision)
            }
            WatchStart::After(None) => (Vec::new(), None, self.current_revision().await?),
        };
        let mut state = WatchState {
            kind: self.kind,
            initial: initial.into_iter(),
            initial_end,
            upstream: None,
            failure: None,
            selectors,
        };
        let progress_every = params.bookmark_interval.filter(|_| params.allow_bookmarks);
        match self.source.watch(&prefix, after, progress_every).await {
            Ok(upstream) => state.upstream = Some(upstream),
            Err(err @ StorageError::Expired { .. }) => state.failure = Some(state.error(err)),
            Err(err) => return Err(self.storage_error(err, "")),
        }
        Ok(futures::stream::unfold(state, |mut state| async move {
            let item = state.next_item().await?;
            Some((item, state))
        })
        .boxed())
    }

    /// The objects matching `selectors` under `prefix`, read with freshness `read`, and the
    /// revision they were read at.
    async fn initial_objects(
        &self,
        prefix: &str,
        read: ReadRevision,
        selectors: &Selectors,
    ) -> Result<(Vec<Object>, Revision), ApiError> {
        let mut options = ListOptions::default();
        let mut objects = Vec::new();
        loop {
            let page = self
                .source
                .list(prefix, &options, read)
                .await
                .map_err(|e| self.storage_error(e, ""))?;
            for kv in &page.items {
                let object = Object::from_stored(&kv.value, &kv.key, kv.mod_revision)?;
                if selectors.matches(object.value()) {
                    objects.push(object);
                }
            }
            match page.continue_token {
                Some(token) => options.continue_token = Some(token),
                None => return Ok((objects, page.revision)),
            }
        }
    }
}

/// The state of one watch stream.
struct WatchState {
    kind: Kind,
    initial: std::vec::IntoIter<Object>,
    initial_end: Option<Revision>,
    upstream: Option<CacheWatchStream>,
    /// An error to report before ending.
    failure: Option<ApiError>,
    selectors: Selectors,
}

impl WatchState {
    async fn next_item(&mut self) -> Option<WatchItem> {
        if let Some(object) = self.initial.next() {
            return Some(WatchItem::Event {
                event_type: WatchEventType::Added,
                object,
            });
        }
        if let Some(resource_version) = self.initial_end.take() {
            return Some(WatchItem::InitialEventsEnd { resource_version });
        }
        if let Some(err) = self.failure.take() {
            self.upstream = None;
            return Some(WatchItem::Error(err));
        }
        loop {
            let item = match self.upstream.as_mut()?.next().await {
                None => {
                    self.upstream = None;
                    return None;
                }
                Some(Ok(CacheWatchItem::Progress(resource_version))) => {
                    WatchItem::Bookmark { resource_version }
                }
                Some(Ok(CacheWatchItem::Event(event))) => match self.translate(&event) {
                    Ok(Some(item)) => item,
                    Ok(None) => continue,
                    Err(err) => {
                        self.upstream = None;
                        WatchItem::Error(err)
                    }
                },
                Some(Err(err)) => {
                    self.upstream = None;
                    WatchItem::Error(self.error(err))
                }
            };
            return Some(item);
        }
    }

    /// The event this watcher sees for a storage change, if any.
    fn translate(&self, event: &WatchEvent) -> Result<Option<WatchItem>, ApiError> {
        // A watch pinned to one name (a node agent's) skips every other object by its key,
        // without reading it; names never change, so neither side of an update matches.
        if let Some(name) = self.selectors.pinned_name()
            && event.kv.key.rsplit('/').next() != Some(name)
        {
            return Ok(None);
        }
        let object = Object::from_stored(&event.kv.value, &event.kv.key, event.kv.mod_revision)?;
        let matches = self.selectors.matches(object.value());
        let event_type = match event.event_type {
            EventType::Created if matches => WatchEventType::Added,
            EventType::Deleted if matches => WatchEventType::Deleted,
            EventType::Created | EventType::Deleted => return Ok(None),
            EventType::Updated => {
                let before = match &event.prev {
                    Some(prev) if !self.selectors.is_everything() => Some(Object::from_stored(
                        &prev.value,
                        &prev.key,
                        prev.mod_revision,
                    )?),
                    _ => None,
                };
                let matched_before = before
                    .as_ref()
                    .map_or(matches, |before| self.selectors.matches(before.value()));
                match (matched_before, matches, before) {
                    (true, true, _) => WatchEventType::Modified,
                    (false, true, _) => WatchEventType::Added,
                    (true, false, Some(before)) => {
                        // Kubernetes reports the last matching state, at the event's revision.
                        let mut last = (*before.value()).clone();
                        set_resource_version(&mut last, event.revision());
                        return Ok(Some(WatchItem::Event {
                            event_type: WatchEventType::Deleted,
                            object: Object::new(last, None),
                        }));
                    }
                    _ => return Ok(None),
                }
            }
        };
        Ok(Some(WatchItem::Event { event_type, object }))
    }

    fn error(&self, err: StorageError) -> ApiError {
        errors::from_storage(err, &errors::subject(self.kind, ""), During::Request)
    }
}
