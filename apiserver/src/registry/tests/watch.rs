use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use super::*;
use crate::registry::{
    DeleteParams, Subresource, WatchEventType, WatchItem, WatchItems, WatchParams,
};

/// The next item, failing the test if none comes within 10 s.
async fn next(watch: &mut WatchItems) -> WatchItem {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a watch item within 10 s")
        .expect("the watch goes on")
}

/// The next event's type and object name.
async fn next_event(watch: &mut WatchItems) -> (WatchEventType, String) {
    match next(watch).await {
        WatchItem::Event { event_type, object } => (event_type, object.name().to_owned()),
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn relabel(fx: &Fixture, name: &str, labels: Value) -> Object {
    let current = fx
        .jobs()
        .get(Some("default"), name, crate::registry::ReadRevision::Latest)
        .await
        .unwrap();
    let mut body = (*current.value()).clone();
    body["metadata"]["labels"] = labels;
    fx.jobs()
        .update(
            Some("default"),
            name,
            body.into(),
            V1ALPHA1,
            Subresource::Main,
            &writer(),
        )
        .await
        .unwrap()
        .object
}

#[tokio::test]
async fn a_watch_resumed_from_a_resource_version_misses_nothing() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let first = fx.create_job("j-0").await;
        // Changes made before the watch starts, after the resourceVersion it resumes from.
        for i in 1..20 {
            fx.create_job(&format!("j-{i}")).await;
        }
        relabel(&fx, "j-3", json!({"x": "1"})).await;
        fx.jobs()
            .delete(Some("default"), "j-4", &DeleteParams::default())
            .await
            .unwrap();
        let params = WatchParams {
            resource_version: Some(first.resource_version().into()),
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        // Changes made while it runs.
        let writer_fx = &fx;
        let writes = async {
            for i in 20..40 {
                writer_fx.create_job(&format!("j-{i}")).await;
            }
        };
        let reads = async {
            let mut seen = Vec::new();
            while seen.len() < 19 + 2 + 20 {
                seen.push(next_event(&mut watch).await);
            }
            seen
        };
        let ((), seen) = tokio::join!(writes, reads);
        let mut expected: Vec<(WatchEventType, String)> = (1..20)
            .map(|i| (WatchEventType::Added, format!("j-{i}")))
            .collect();
        expected.push((WatchEventType::Modified, "j-3".into()));
        expected.push((WatchEventType::Deleted, "j-4".into()));
        expected.extend((20..40).map(|i| (WatchEventType::Added, format!("j-{i}"))));
        assert_eq!(seen, expected);
    }
}

#[tokio::test]
async fn a_watch_without_resource_version_starts_with_the_current_objects() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("a").await;
        fx.create_job("b").await;
        let mut watch = fx
            .jobs()
            .watch(Some("default"), &WatchParams::default())
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "a".into())
        );
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "b".into())
        );
        fx.create_job("c").await;
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "c".into())
        );
    }
}

#[tokio::test]
async fn a_watch_list_marks_the_end_of_the_initial_events_with_a_bookmark() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("a").await;
        let last = fx.create_job("b").await;
        let params = WatchParams {
            send_initial_events: Some(true),
            resource_version_match: Some("NotOlderThan".into()),
            allow_bookmarks: true,
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "a".into())
        );
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "b".into())
        );
        match next(&mut watch).await {
            WatchItem::InitialEventsEnd { resource_version } => {
                assert!(resource_version >= last.resource_version().parse().unwrap());
            }
            other => panic!("expected the initial-events-end bookmark, got {other:?}"),
        }
        fx.create_job("c").await;
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "c".into())
        );
    }
}

#[tokio::test]
async fn objects_entering_and_leaving_a_selector_are_added_and_deleted() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        fx.create_job("a").await;
        let params = WatchParams {
            label_selector: Some("watched=yes".into()),
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        relabel(&fx, "a", json!({"watched": "yes"})).await;
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "a".into())
        );
        relabel(&fx, "a", json!({"watched": "yes", "more": "1"})).await;
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Modified, "a".into())
        );
        let left = relabel(&fx, "a", json!({"watched": "no"})).await;
        match next(&mut watch).await {
            WatchItem::Event {
                event_type: WatchEventType::Deleted,
                object,
            } => {
                // The last matching state, at the revision of the change.
                assert_eq!(object.value()["metadata"]["labels"]["watched"], "yes");
                assert_eq!(object.resource_version(), left.resource_version());
            }
            other => panic!("expected DELETED, got {other:?}"),
        }
        fx.create_job("unwatched").await;
        relabel(&fx, "a", json!({"watched": "yes"})).await;
        assert_eq!(
            next_event(&mut watch).await,
            (WatchEventType::Added, "a".into())
        );
    }
}

#[tokio::test]
async fn a_watch_from_compacted_history_ends_with_expired() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let old = fx.create_job("a").await;
        for i in 0..5 {
            fx.create_job(&format!("b-{i}")).await;
        }
        let current = fx.jobs().current_revision().await.unwrap();
        fx.compact(current).await;
        let params = WatchParams {
            resource_version: Some(old.resource_version().into()),
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        match next(&mut watch).await {
            WatchItem::Error(err) => {
                assert_eq!(err.code.as_u16(), 410);
                assert!(
                    err.message.starts_with("too old resource version"),
                    "{}",
                    err.message
                );
            }
            other => panic!("expected a 410 error, got {other:?}"),
        }
        assert!(watch.next().await.is_none());
    }
}

#[tokio::test]
async fn a_quiet_watch_sends_bookmarks_when_allowed() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let created = fx.create_job("a").await;
        let params = WatchParams {
            resource_version: Some(created.resource_version().into()),
            allow_bookmarks: true,
            bookmark_interval: Some(Duration::from_millis(50)),
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        match next(&mut watch).await {
            WatchItem::Bookmark { resource_version } => {
                assert_eq!(resource_version.to_string(), created.resource_version());
            }
            other => panic!("expected a bookmark, got {other:?}"),
        }
        let changed = relabel(&fx, "a", json!({"x": "y"})).await;
        // Bookmarks keep coming while the update is on its way; none may claim more than
        // was delivered.
        loop {
            match next(&mut watch).await {
                WatchItem::Bookmark { resource_version } => {
                    assert_eq!(resource_version.to_string(), created.resource_version());
                }
                WatchItem::Event { event_type, object } => {
                    assert_eq!((event_type, object.name()), (WatchEventType::Modified, "a"));
                    break;
                }
                other => panic!("expected a bookmark or the update, got {other:?}"),
            }
        }
        match next(&mut watch).await {
            WatchItem::Bookmark { resource_version } => {
                assert_eq!(resource_version.to_string(), changed.resource_version());
            }
            other => panic!("expected a bookmark, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_watch_from_the_future_is_refused() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let current = fx.jobs().current_revision().await.unwrap();
        let params = WatchParams {
            resource_version: Some((current + 100).to_string()),
            ..WatchParams::default()
        };
        assert_eq!(code(fx.jobs().watch(None, &params).await.map(|_| ())), 504);
    }
}

#[tokio::test]
async fn a_watch_sees_only_its_namespace_and_the_name_it_pins() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let start = fx.jobs().current_revision().await.unwrap().to_string();
        let params = WatchParams {
            resource_version: Some(start),
            field_selector: Some("metadata.name=pull".into()),
            ..WatchParams::default()
        };
        let mut watch = fx.jobs().watch(Some("default"), &params).await.unwrap();
        fx.jobs()
            .create(Some("other"), job("pull").into(), V1ALPHA1, &writer())
            .await
            .unwrap();
        fx.create_job("pull-2").await;
        fx.create_job("pull").await;
        match next(&mut watch).await {
            WatchItem::Event { event_type, object } => {
                assert_eq!(event_type, WatchEventType::Added);
                assert_eq!((object.namespace(), object.name()), ("default", "pull"));
            }
            other => panic!("expected ADDED, got {other:?}"),
        }
    }
}
