//! The informer: keeps one kind's objects flowing into the scheduler. It lists, then watches
//! from the list's resourceVersion; when the watch ends or reports 410 Gone it lists again
//! (after a bounded backoff when the server failed). It reads through the registry, which in
//! the server reads from the watch cache.

use std::sync::Arc;

use futures::StreamExt;
use tokio::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::registry::{ListParams, Object, Registry, WatchEventType, WatchItem, WatchParams};
use prepull_api::Kind;

/// First pause before listing again after a failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the informer tells its consumer.
#[derive(Debug)]
pub enum InformerEvent {
    /// A full list: the consumer replaces what it holds.
    Listed(Vec<Object>),
    /// An object was added or changed.
    Applied(Object),
    /// An object was deleted (its last state).
    Deleted(Object),
}

/// Lists and watches `kind` until `stop` is cancelled, handing every event to `consume`
/// (which must not block).
pub async fn run(
    registry: Arc<Registry>,
    kind: Kind,
    stop: CancellationToken,
    mut consume: impl FnMut(InformerEvent) + Send,
) {
    let mut backoff = FIRST_BACKOFF;
    while !stop.is_cancelled() {
        let failed = tokio::select! {
            () = stop.cancelled() => return,
            failed = list_and_watch(&registry, kind, &mut consume) => failed,
        };
        if failed {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        } else {
            backoff = FIRST_BACKOFF;
        }
    }
}

/// One list and the watch after it. Returns whether it ended on a failure (anything but a
/// 410 Gone, which only means "list again"), after which the caller backs off.
async fn list_and_watch(
    registry: &Registry,
    kind: Kind,
    consume: &mut (impl FnMut(InformerEvent) + Send),
) -> bool {
    let store = registry.store(kind);
    let list = match store.list(None, &ListParams::default()).await {
        Ok(list) => list,
        Err(err) => {
            tracing::warn!(kind = kind.info().name, error = %err.message, "scheduler: list failed");
            return true;
        }
    };
    let params = WatchParams {
        resource_version: Some(list.resource_version.clone()),
        ..WatchParams::default()
    };
    consume(InformerEvent::Listed(list.items));
    let mut events = match store.watch(None, &params).await {
        Ok(events) => events,
        Err(err) => {
            tracing::warn!(kind = kind.info().name, error = %err.message, "scheduler: watch failed");
            return err.code.as_u16() != 410;
        }
    };
    while let Some(item) = events.next().await {
        match item {
            WatchItem::Event {
                event_type: WatchEventType::Deleted,
                object,
            } => consume(InformerEvent::Deleted(object)),
            WatchItem::Event { object, .. } => consume(InformerEvent::Applied(object)),
            WatchItem::Bookmark { .. } | WatchItem::InitialEventsEnd { .. } => {}
            WatchItem::Error(err) => {
                let gone = err.code.as_u16() == 410;
                if !gone {
                    tracing::warn!(kind = kind.info().name, error = %err.message, "scheduler: watch ended");
                }
                return !gone;
            }
        }
    }
    // The stream ended without a word (the storage went away): back off before listing.
    true
}
