//! Model-based: random sequences of every [`Storage`] call (create, get, update with
//! compare-and-swap, delete with and without precondition, paged lists now and at a revision,
//! watches from a revision, compaction, the current revision), each outcome checked against
//! [`Model`]. A watch opened at the start must also deliver every write right after it.
//!
//! The seed is random per run and printed on failure with the operations of the failing
//! sequence; `PREPULL_MODEL_SEED=<seed>` replays it.

use std::sync::Arc;

use bytes::Bytes;
use prepull_storage::{
    EventType, KeyValue, ListOptions, Revision, Storage, StorageError, WatchEvent, WatchStream,
};

use super::model::Model;
use super::support::{next_item, watch, watch_error};
use crate::conformance::Backend;

const SEED_ENV: &str = "PREPULL_MODEL_SEED";
const SEQUENCES: u64 = 16;
const OPERATIONS: usize = 80;
/// Key names under a sequence's root: a few, so creates collide and updates find their keys;
/// two "namespaces" sharing the string prefix `ns-`.
const NAMES: [&str; 6] = ["a", "b", "c", "ns-a/x", "ns-a/y", "ns-b/z"];
const ROOT: &str = "/c/model/";

#[derive(Clone, Debug)]
enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Get {
        key: String,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    List {
        prefix: String,
        limit: Option<u64>,
        revision: Option<Revision>,
    },
    Watch {
        prefix: String,
        after: Revision,
    },
    Compact {
        to: Revision,
    },
    CurrentRevision,
}

pub async fn random_operation_sequences_agree_with_a_model(backend: impl Backend) {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let name = std::any::type_name_of_val(&backend);
    let store = backend.store();
    let mut model = Model::new(store.current_revision().await.unwrap());
    let mut live = watch(&store, ROOT, model.base()).await;
    for sequence in 0..SEQUENCES {
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(sequence));
        let root = format!("{ROOT}s{sequence}/");
        let mut trace = Vec::with_capacity(OPERATIONS);
        for step in 0..OPERATIONS {
            let op = generate(&mut rng, &root, &model);
            trace.push(op.clone());
            let checked = check(&backend, &store, &mut model, &op).await;
            let checked = match checked {
                Ok(true) => check_live_watch(&mut live, &model).await,
                Ok(false) => Ok(()),
                Err(mismatch) => Err(mismatch),
            };
            if let Err(mismatch) = checked {
                panic!(
                    "{name}: operation {step} of sequence {sequence} disagrees with the model: \
                     {mismatch}\noperations of the sequence: {trace:#?}\n\
                     replay with {SEED_ENV}={seed}"
                );
            }
        }
    }
    let writes = model.revisions().count();
    assert!(
        writes as u64 >= SEQUENCES * OPERATIONS as u64 / 8,
        "{name}: only {writes} of the operations wrote: the generator is off ({SEED_ENV}={seed})"
    );
    let all = list_pages(&store, ROOT, Some(3), None)
        .await
        .unwrap_or_else(|err| panic!("{name}: final list: {err:?} ({SEED_ENV}={seed})"));
    assert_eq!(
        all.1,
        model.state_at(ROOT, model.current()),
        "{name}: the final state ({SEED_ENV}={seed})"
    );
}

/// Picks the next operation, mostly ones that can succeed, some that must fail.
fn generate(rng: &mut fastrand::Rng, root: &str, model: &Model) -> Op {
    let key = format!("{root}{}", NAMES[rng.usize(..NAMES.len())]);
    let value = if rng.u8(..10) == 0 {
        Bytes::new()
    } else {
        Bytes::from(format!("v{}", rng.u32(..)))
    };
    let live = model.live(&key).map(|kv| kv.mod_revision);
    let stale = |rng: &mut fastrand::Rng| {
        let past: Vec<Revision> = model.revisions().filter(|r| Some(*r) != live).collect();
        if past.is_empty() {
            model.current() + 1
        } else {
            past[rng.usize(..past.len())]
        }
    };
    let readable_from = model.compacted().max(model.base()).max(1);
    match rng.u8(..100) {
        0..22 => Op::Create { key, value },
        22..42 => {
            let expected = match live {
                Some(revision) if rng.u8(..4) != 0 => revision,
                _ => stale(rng),
            };
            Op::Update {
                key,
                value,
                expected,
            }
        }
        42..52 => {
            let expected = match rng.u8(..5) {
                0 | 1 => None,
                2 => Some(stale(rng)),
                _ => live.or_else(|| Some(stale(rng))),
            };
            Op::Delete { key, expected }
        }
        52..64 => Op::Get { key },
        64..82 => {
            let current = model.current();
            let revision = match rng.u8(..20) {
                0..10 => None,
                10..17 if current >= readable_from => Some(rng.u64(readable_from..=current)),
                17 => Some(current + 1 + rng.u64(..3)),
                18 | 19 if model.compacted() > 1 => Some(rng.u64(1..model.compacted())),
                _ => None,
            };
            let limit = match rng.u8(..6) {
                0 | 1 => None,
                2 => Some(0),
                _ => Some(rng.u64(1..=4)),
            };
            Op::List {
                prefix: prefix(rng, root),
                limit,
                revision,
            }
        }
        82..92 => {
            let current = model.current();
            // `compacted - 1` is left out: whether the compaction point's own change is still
            // replayable differs between backends, and the contract does not say.
            let after = if model.compacted() > 1 && rng.u8(..4) == 0 {
                rng.u64(..model.compacted() - 1)
            } else {
                rng.u64(model.compacted().max(model.base())..=current)
            };
            Op::Watch {
                prefix: prefix(rng, root),
                after,
            }
        }
        92..95 if model.current() > model.compacted().max(model.base()) => Op::Compact {
            to: rng.u64(model.compacted().max(model.base()) + 1..=model.current()),
        },
        _ => Op::CurrentRevision,
    }
}

fn prefix(rng: &mut fastrand::Rng, root: &str) -> String {
    match rng.u8(..10) {
        0..5 => root.to_string(),
        5 | 6 => format!("{root}ns-a/"),
        7 | 8 => format!("{root}ns-"),
        _ => ROOT.to_string(),
    }
}

macro_rules! ensure {
    ($condition:expr, $($why:tt)+) => {
        if !$condition {
            return Err(format!($($why)+));
        }
    };
}

/// Runs `op` and checks its outcome; `Ok(true)` when it wrote (the model recorded it).
async fn check(
    backend: &impl Backend,
    store: &Arc<dyn Storage>,
    model: &mut Model,
    op: &Op,
) -> Result<bool, String> {
    let current = model.current();
    match op {
        Op::Create { key, value } => {
            let outcome = store.create(key, value.clone()).await;
            if model.live(key).is_some() {
                ensure!(
                    matches!(outcome, Err(StorageError::AlreadyExists { .. })),
                    "create of a live key: {outcome:?}"
                );
                return Ok(false);
            }
            let kv = outcome.map_err(|err| format!("create: {err:?}"))?;
            ensure!(
                kv.key == *key
                    && kv.value == *value
                    && kv.create_revision == kv.mod_revision
                    && kv.mod_revision > current,
                "create returned {kv:?} (revision before: {current})"
            );
            model.record(EventType::Created, kv, None);
            Ok(true)
        }
        Op::Get { key } => {
            let outcome = store.get(key).await;
            match model.live(key) {
                Some(live) => ensure!(
                    matches!(&outcome, Ok(kv) if kv == live),
                    "get: {outcome:?}, model {live:?}"
                ),
                None => ensure!(
                    matches!(outcome, Err(StorageError::NotFound { .. })),
                    "get of a missing key: {outcome:?}"
                ),
            }
            Ok(false)
        }
        Op::Update {
            key,
            value,
            expected,
        } => {
            let outcome = store.update(key, value.clone(), *expected).await;
            let Some(live) = model.live(key).cloned() else {
                ensure!(
                    matches!(outcome, Err(StorageError::NotFound { .. })),
                    "update of a missing key: {outcome:?}"
                );
                return Ok(false);
            };
            if live.mod_revision != *expected {
                return check_conflict(outcome.map(|_| ()), &live);
            }
            let kv = outcome.map_err(|err| format!("update: {err:?}"))?;
            ensure!(
                kv.key == *key
                    && kv.value == *value
                    && kv.create_revision == live.create_revision
                    && kv.mod_revision > current,
                "update returned {kv:?} over {live:?}"
            );
            model.record(EventType::Updated, kv, Some(live));
            Ok(true)
        }
        Op::Delete { key, expected } => {
            let outcome = store.delete(key, *expected).await;
            let Some(live) = model.live(key).cloned() else {
                ensure!(
                    matches!(outcome, Err(StorageError::NotFound { .. })),
                    "delete of a missing key: {outcome:?}"
                );
                return Ok(false);
            };
            if expected.is_some_and(|expected| expected != live.mod_revision) {
                return check_conflict(outcome.map(|_| ()), &live);
            }
            let kv = outcome.map_err(|err| format!("delete: {err:?}"))?;
            ensure!(
                kv.mod_revision > current
                    && kv
                        == KeyValue {
                            mod_revision: kv.mod_revision,
                            ..live.clone()
                        },
                "delete returned {kv:?} for {live:?}"
            );
            model.record(EventType::Deleted, kv, Some(live));
            Ok(true)
        }
        Op::List {
            prefix,
            limit,
            revision,
        } => {
            let outcome = list_pages(store, prefix, *limit, *revision).await;
            match revision {
                Some(revision) if *revision > current => ensure!(
                    matches!(outcome, Err(StorageError::RevisionTooLarge { .. })),
                    "list at a future revision: {outcome:?}"
                ),
                Some(revision) if *revision < model.compacted() => ensure!(
                    matches!(outcome, Err(StorageError::Expired { .. })),
                    "list below the compaction point {}: {outcome:?}",
                    model.compacted()
                ),
                _ => {
                    let at = revision.unwrap_or(current);
                    let (listed_at, items) = outcome.map_err(|err| format!("list: {err:?}"))?;
                    ensure!(listed_at == at, "list read at {listed_at}, expected {at}");
                    let expected = model.state_at(prefix, at);
                    ensure!(
                        items == expected,
                        "list gave {items:#?}\nmodel: {expected:#?}"
                    );
                }
            }
            Ok(false)
        }
        Op::Watch { prefix, after } => {
            if *after + 1 < model.compacted() {
                let err = watch_error(store, prefix, *after).await;
                ensure!(
                    matches!(err, StorageError::Expired { .. }),
                    "watch below the compaction point: {err:?}"
                );
                return Ok(false);
            }
            let mut stream = watch(store, prefix, *after).await;
            for expected in model.events_after(prefix, *after) {
                let got = next_item(&mut stream).await;
                ensure!(
                    matches!(&got, Some(Ok(event)) if *event == expected),
                    "watch after {after} gave {got:?}, model {expected:?}"
                );
            }
            Ok(false)
        }
        Op::Compact { to } => {
            backend.compact(*to).await;
            model.compact(*to);
            Ok(false)
        }
        Op::CurrentRevision => {
            let revision = store.current_revision().await;
            ensure!(
                matches!(revision, Ok(revision) if revision == current),
                "current revision {revision:?}, model {current}"
            );
            Ok(false)
        }
    }
}

fn check_conflict(outcome: Result<(), StorageError>, live: &KeyValue) -> Result<bool, String> {
    match outcome {
        Err(StorageError::Conflict { current, .. }) => {
            ensure!(
                current.as_deref().is_none_or(|winner| winner == live),
                "the conflict carries {current:?}, the live value is {live:?}"
            );
            Ok(false)
        }
        other => Err(format!("a stale precondition gave {other:?}")),
    }
}

/// The watch opened at the start delivers the write just made, and nothing else first.
async fn check_live_watch(live: &mut WatchStream, model: &Model) -> Result<(), String> {
    let expected: WatchEvent = model
        .events_after(ROOT, model.current() - 1)
        .pop()
        .expect("the write just recorded");
    let got = next_item(live).await;
    ensure!(
        matches!(&got, Some(Ok(event)) if *event == expected),
        "the live watch gave {got:?} for {expected:?}"
    );
    Ok(())
}

/// Every page of a list, checking the paging contract; the revision read at and the items.
async fn list_pages(
    store: &Arc<dyn Storage>,
    prefix: &str,
    limit: Option<u64>,
    revision: Option<Revision>,
) -> Result<(Revision, Vec<KeyValue>), StorageError> {
    let options = ListOptions {
        limit,
        revision,
        ..ListOptions::default()
    };
    let first = store.list(prefix, &options).await?;
    let at = first.revision;
    let max = limit.filter(|limit| *limit > 0).unwrap_or(u64::MAX);
    let mut items = Vec::new();
    let mut page = first;
    loop {
        let internal = |what: String| StorageError::Internal(format!("paging contract: {what}"));
        if page.revision != at {
            return Err(internal(format!(
                "a page at {} after one at {at}",
                page.revision
            )));
        }
        if page.items.len() as u64 > max {
            return Err(internal(format!(
                "{} items over the limit {max}",
                page.items.len()
            )));
        }
        if page.continue_token.is_some() && page.items.is_empty() {
            return Err(internal("an empty page with a continue token".into()));
        }
        if page.continue_token.is_none() && page.remaining.is_some_and(|left| left > 0) {
            return Err(internal(format!(
                "{:?} remaining on the last page",
                page.remaining
            )));
        }
        items.extend(page.items);
        let Some(token) = page.continue_token else {
            break;
        };
        page = store
            .list(
                prefix,
                &ListOptions {
                    limit,
                    continue_token: Some(token),
                    ..ListOptions::default()
                },
            )
            .await?;
    }
    Ok((at, items))
}
