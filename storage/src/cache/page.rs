//! Reading one page of a list from a [`ResourceState`], at its current revision or at an
//! earlier one still covered by its history.
//!
//! A past revision is served without a snapshot: the state at revision `at` is the current
//! state with every key changed since `at` put back to its value before its first change after
//! `at` (absent if that change created it). Those keys come from the history ring, so the cost
//! is one pass over the changes since `at` plus the page itself.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::change::Object;
use super::resource::ResourceState;
use crate::{ListPage, Revision, continue_token};

/// What to read: keys under `prefix`, from `start` (inclusive), at most `limit` of them, as
/// they were at revision `at`.
#[derive(Debug)]
pub(crate) struct PageRequest<'a> {
    pub prefix: &'a str,
    pub start: &'a str,
    pub limit: Option<usize>,
    pub at: Revision,
}

/// Reads one page. The caller has checked `state.history.oldest() <= request.at`.
pub(crate) fn read_page(state: &ResourceState, request: &PageRequest<'_>) -> ListPage {
    let mut items = Vec::new();
    let mut remaining = 0u64;
    let limit = request.limit.unwrap_or(usize::MAX);
    visit_at(state, request, |key, object| {
        if items.len() < limit {
            items.push(object.to_key_value(key));
        } else {
            remaining += 1;
        }
    });
    let continue_token = (remaining > 0).then(|| {
        let last = &items.last().expect("a limit of at least one item").key;
        continue_token::encode(request.prefix, last, request.at)
    });
    ListPage {
        items,
        revision: request.at,
        remaining: Some(remaining),
        continue_token,
    }
}

/// Calls `visit` for every key under the prefix from `start`, in key order, with its version
/// at `request.at`.
fn visit_at(
    state: &ResourceState,
    request: &PageRequest<'_>,
    mut visit: impl FnMut(&str, &Object),
) {
    let under_prefix = |key: &str| key.starts_with(request.prefix);
    let current = state
        .objects
        .range::<str, _>((Bound::Included(request.start), Bound::Unbounded))
        .map(|(key, object)| (&**key, object))
        .take_while(|(key, _)| under_prefix(key));

    if request.at >= state.revision {
        for (key, object) in current {
            visit(key, object);
        }
        return;
    }

    // Keys changed after `at`, with their version at `at` (None: did not exist).
    let mut then: BTreeMap<&str, Option<&Object>> = BTreeMap::new();
    for change in state.history.since(request.at) {
        let key = &*change.key;
        if key >= request.start && under_prefix(key) {
            then.entry(key).or_insert(change.prev.as_ref());
        }
    }

    let mut current = current.peekable();
    let mut then = then.into_iter().peekable();
    loop {
        let next = match (current.peek(), then.peek()) {
            (None, None) => break,
            (Some(_), None) => current.next().map(|(k, o)| (k, Some(o))),
            (None, Some(_)) => then.next(),
            (Some((now_key, _)), Some((then_key, _))) => {
                if now_key < then_key {
                    current.next().map(|(k, o)| (k, Some(o)))
                } else {
                    if now_key == then_key {
                        current.next();
                    }
                    then.next()
                }
            }
        };
        if let Some((key, Some(object))) = next {
            visit(key, object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, KeyValue, WatchEvent};
    use bytes::Bytes;

    fn write(state: &mut ResourceState, event_type: EventType, key: &str, value: &str, rev: u64) {
        let event = WatchEvent {
            event_type,
            kv: KeyValue {
                key: key.into(),
                value: Bytes::copy_from_slice(value.as_bytes()),
                create_revision: rev,
                mod_revision: rev,
            },
            prev: None,
        };
        state.apply(&event).expect("a newer change");
    }

    fn keys_and_values(page: &ListPage) -> Vec<(String, String)> {
        page.items
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    String::from_utf8(kv.value.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    fn request(at: Revision) -> PageRequest<'static> {
        PageRequest {
            prefix: "/g/p/",
            start: "/g/p/",
            limit: None,
            at,
        }
    }

    /// a=1@2, b=1@3, c=1@4, a=2@5, b deleted@6, d=1@7
    fn state_with_history() -> ResourceState {
        let mut state = ResourceState::empty(100);
        state.replace(BTreeMap::new(), 1);
        write(&mut state, EventType::Created, "/g/p/a", "a1", 2);
        write(&mut state, EventType::Created, "/g/p/b", "b1", 3);
        write(&mut state, EventType::Created, "/g/p/c", "c1", 4);
        write(&mut state, EventType::Updated, "/g/p/a", "a2", 5);
        write(&mut state, EventType::Deleted, "/g/p/b", "", 6);
        write(&mut state, EventType::Created, "/g/p/d", "d1", 7);
        state
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (format!("/g/p/{k}"), v.to_string()))
            .collect()
    }

    #[test]
    fn a_past_revision_sees_the_values_and_keys_of_that_time() {
        let state = state_with_history();
        assert_eq!(
            keys_and_values(&read_page(&state, &request(7))),
            pairs(&[("a", "a2"), ("c", "c1"), ("d", "d1")])
        );
        assert_eq!(
            keys_and_values(&read_page(&state, &request(4))),
            pairs(&[("a", "a1"), ("b", "b1"), ("c", "c1")])
        );
        assert_eq!(
            keys_and_values(&read_page(&state, &request(5))),
            pairs(&[("a", "a2"), ("b", "b1"), ("c", "c1")])
        );
        assert_eq!(keys_and_values(&read_page(&state, &request(1))), vec![]);
        assert_eq!(read_page(&state, &request(4)).revision, 4);
    }

    #[test]
    fn pages_at_a_past_revision_chain_through_continue_tokens() {
        let state = state_with_history();
        let mut seen = Vec::new();
        let mut start = "/g/p/".to_string();
        loop {
            let page = read_page(
                &state,
                &PageRequest {
                    limit: Some(1),
                    start: &start,
                    ..request(4)
                },
            );
            seen.extend(keys_and_values(&page));
            assert_eq!(page.remaining, Some(3 - seen.len() as u64));
            let Some(token) = page.continue_token else {
                break;
            };
            let next = continue_token::decode("/g/p/", &token).unwrap();
            assert_eq!(next.revision, 4);
            start = next.start_key;
        }
        assert_eq!(seen, pairs(&[("a", "a1"), ("b", "b1"), ("c", "c1")]));
    }

    #[test]
    fn a_narrower_prefix_sees_only_its_keys() {
        let mut state = ResourceState::empty(100);
        state.replace(BTreeMap::new(), 1);
        write(&mut state, EventType::Created, "/g/p/ns1/a", "x", 2);
        write(&mut state, EventType::Created, "/g/p/ns2/a", "y", 3);
        write(&mut state, EventType::Created, "/g/p/ns10/a", "z", 4);
        let page = read_page(
            &state,
            &PageRequest {
                prefix: "/g/p/ns1/",
                start: "/g/p/ns1/",
                limit: None,
                at: 4,
            },
        );
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].key, "/g/p/ns1/a");
    }
}
