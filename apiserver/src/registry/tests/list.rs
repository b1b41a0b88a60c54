use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::registry::{ListParams, ReadRevision};

async fn create_labelled(fx: &Fixture, namespace: &str, name: &str, labels: Value) {
    let mut body = job(name);
    body["metadata"]["labels"] = labels;
    fx.jobs()
        .create(Some(namespace), body.into(), V1ALPHA1, &writer())
        .await
        .unwrap();
}

fn names(list: &crate::registry::ObjectList) -> Vec<String> {
    list.items.iter().map(|o| o.name().to_owned()).collect()
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        create_labelled(&fx, "a", "one", json!({"app": "web"})).await;
        create_labelled(&fx, "a", "two", json!({"app": "db"})).await;
        create_labelled(&fx, "b", "one", json!({"app": "web"})).await;
        let list = |label: Option<&str>, field: Option<&str>| ListParams {
            label_selector: label.map(Into::into),
            field_selector: field.map(Into::into),
            ..ListParams::default()
        };
        let all = fx.jobs().list(None, &ListParams::default()).await.unwrap();
        assert_eq!(all.items.len(), 3);
        let web = fx
            .jobs()
            .list(None, &list(Some("app=web"), None))
            .await
            .unwrap();
        assert_eq!(names(&web), ["one", "one"]);
        let in_a = fx
            .jobs()
            .list(Some("a"), &list(Some("app in (web,db)"), None))
            .await
            .unwrap();
        assert_eq!(names(&in_a), ["one", "two"]);
        let by_field = fx
            .jobs()
            .list(
                None,
                &list(None, Some("metadata.namespace=b,metadata.name=one")),
            )
            .await
            .unwrap();
        assert_eq!(by_field.items.len(), 1);
        assert_eq!(by_field.items[0].namespace(), "b");
        let by_name = fx
            .jobs()
            .list(Some("a"), &list(None, Some("metadata.name=two")))
            .await
            .unwrap();
        assert_eq!(names(&by_name), ["two"]);
        let not_web = fx
            .jobs()
            .list(None, &list(Some("app!=web"), None))
            .await
            .unwrap();
        assert_eq!(names(&not_web), ["two"]);
        let err = fx
            .jobs()
            .list(None, &list(None, Some("spec.image=nginx")))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code.as_u16(), err.message.as_str()),
            (400, "field label not supported: spec.image")
        );
        assert_eq!(
            code(fx.jobs().list(None, &list(Some("app=("), None)).await),
            400
        );
    }
}

/// Follows `continue` tokens from `first`, returning every page.
async fn pages(fx: &Fixture, first: ListParams) -> Vec<crate::registry::ObjectList> {
    let mut params = first;
    let mut pages = Vec::new();
    loop {
        let page = fx.jobs().list(Some("default"), &params).await.unwrap();
        let next = page.continue_token.clone();
        pages.push(page);
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return pages,
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

#[tokio::test]
async fn a_hundred_objects_page_by_ten_at_one_revision() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        for i in 0..100 {
            let labels = json!({"parity": if i % 2 == 0 { "even" } else { "odd" }});
            create_labelled(&fx, "default", &format!("job-{i:03}"), labels).await;
        }
        let first = ListParams {
            limit: Some(10),
            ..ListParams::default()
        };
        let all = pages(&fx, first.clone()).await;
        assert_eq!(all.len(), 10);
        assert!(all.iter().all(|p| p.items.len() == 10));
        assert!(
            all.iter()
                .all(|p| p.resource_version == all[0].resource_version)
        );
        let seen: BTreeSet<String> = all.iter().flat_map(names).collect();
        assert_eq!(seen.len(), 100);

        // A write between pages does not show up in the later pages of the same list.
        let mut params = first.clone();
        let page_one = fx.jobs().list(Some("default"), &params).await.unwrap();
        fx.create_job("job-050a").await;
        params.continue_token = page_one.continue_token.clone();
        let rest = pages(&fx, params).await;
        let total: usize = page_one.items.len() + rest.iter().map(|p| p.items.len()).sum::<usize>();
        assert_eq!(total, 100);

        // With a selector, pages still hold `limit` matching objects.
        let even = ListParams {
            limit: Some(10),
            label_selector: Some("parity=even".into()),
            ..ListParams::default()
        };
        let mut even_pages = pages(&fx, even).await;
        // Like kube-apiserver, the page that reaches the limit cannot know whether later keys
        // match: the last page may come back empty.
        if even_pages.last().is_some_and(|p| p.items.is_empty()) {
            even_pages.pop();
        }
        assert_eq!(even_pages.len(), 5);
        assert!(even_pages.iter().all(|p| p.items.len() == 10));
        let even_names: BTreeSet<String> = even_pages.iter().flat_map(names).collect();
        assert_eq!(even_names.len(), 50);
        assert!(even_pages.iter().all(|p| p.remaining_item_count.is_none()));
    }
}

#[tokio::test]
async fn resource_versions_select_the_state_read() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        let first = fx.create_job("a").await;
        fx.create_job("b").await;
        let exact = ListParams {
            resource_version: Some(first.resource_version().into()),
            resource_version_match: Some("Exact".into()),
            ..ListParams::default()
        };
        let then = fx.jobs().list(Some("default"), &exact).await.unwrap();
        assert_eq!(names(&then), ["a"]);
        assert_eq!(then.resource_version, first.resource_version());

        let current = fx.jobs().current_revision().await.unwrap();
        let future = ListParams {
            resource_version: Some((current + 10).to_string()),
            ..ListParams::default()
        };
        let err = fx.jobs().list(Some("default"), &future).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 504);
        // "0" takes whatever the server has at hand (the cache may lag); N waits for N.
        let any = ListParams {
            resource_version: Some("0".into()),
            ..ListParams::default()
        };
        let at_hand = fx.jobs().list(Some("default"), &any).await.unwrap();
        assert!(at_hand.items.len() <= 2);
        let not_older = ListParams {
            resource_version: Some(current.to_string()),
            ..ListParams::default()
        };
        let fresh = fx.jobs().list(Some("default"), &not_older).await.unwrap();
        assert_eq!(names(&fresh), ["a", "b"]);
        assert!(fresh.resource_version.parse::<u64>().unwrap() >= current);
        let err = fx
            .jobs()
            .get(
                Some("default"),
                "a",
                ReadRevision::NotOlderThan(current + 10),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code.as_u16(), 504);
    }
}

#[tokio::test]
async fn a_continue_token_from_compacted_history_is_expired() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        for i in 0..5 {
            fx.create_job(&format!("job-{i}")).await;
        }
        let first = ListParams {
            limit: Some(2),
            ..ListParams::default()
        };
        let page = fx.jobs().list(Some("default"), &first).await.unwrap();
        for i in 5..8 {
            fx.create_job(&format!("job-{i}")).await;
        }
        let current = fx.jobs().current_revision().await.unwrap();
        fx.compact(current).await;
        let next = ListParams {
            continue_token: page.continue_token,
            ..first
        };
        let err = fx.jobs().list(Some("default"), &next).await.unwrap_err();
        assert_eq!(err.code.as_u16(), 410);
        assert!(
            err.message
                .starts_with("The provided continue parameter is too old")
        );
        let garbage = ListParams {
            continue_token: Some("garbage".into()),
            ..ListParams::default()
        };
        assert_eq!(code(fx.jobs().list(Some("default"), &garbage).await), 400);
    }
}

#[tokio::test]
async fn lists_are_scoped_to_their_namespace() {
    for fx in Fixture::both().await {
        println!("reads {}", fx.reads());
        create_labelled(&fx, "a", "x", json!({})).await;
        create_labelled(&fx, "ab", "y", json!({})).await;
        let in_a = fx
            .jobs()
            .list(Some("a"), &ListParams::default())
            .await
            .unwrap();
        assert_eq!(names(&in_a), ["x"]);
        assert_eq!(
            in_a.items[0].value()["apiVersion"],
            "apps.kruise.io/v1alpha1"
        );
    }
}
