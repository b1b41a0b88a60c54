//! How much heap the watch cache needs per byte of serialized objects.
//!
//! Run: `cargo bench -p prepull-storage --bench cache_memory` (release build, embedded backend
//! in a temporary directory). Writes `bench/results/cache-memory-<UTC date>.json` at the workspace root
//! and prints the same figures.
//!
//! For each value size it loads 10,000 objects and measures the cache two ways:
//! - `initial-list`: the objects exist before the cache starts; the cache loads them by paged
//!   lists.
//! - `live-creates`: the cache starts on an empty store and receives the objects as watch
//!   events, so each one is in the current state and in the history ring (shared, not copied).
//!
//! Heap attributable to the cache = bytes allocated with the cache loaded minus bytes allocated
//! once the cache is stopped (the backend's own memory, in the same process, cancels out). Allocations are
//! counted by the `cap` crate's wrapper around the system allocator.

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use cap::Cap;
use futures::StreamExt;
use prepull_storage::cache::{CacheOptions, WatchCache};
use prepull_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use prepull_storage::{ListOptions, Storage};
use serde::Serialize;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const OBJECTS: usize = 10_000;
const VALUE_SIZES: [usize; 2] = [2 * 1024, 10 * 1024];
const PREFIX: &str = "/apps.kruise.io/nodeimages/";
/// Writes in flight while loading the store.
const WRITERS: usize = 32;
const TARGET_RATIO: f64 = 1.5;

#[derive(Debug, Serialize)]
struct Measurement {
    mode: &'static str,
    value_bytes: usize,
    objects: usize,
    /// Sum of the serialized payloads the cache holds.
    payload_bytes: usize,
    history_events: usize,
    /// Heap bytes freed when the cache is dropped.
    cache_heap_bytes: usize,
    /// `cache_heap_bytes / payload_bytes`.
    ratio: f64,
    /// Per-object heap beyond the payload.
    overhead_bytes_per_object: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    benchmark: &'static str,
    date_utc: String,
    backend: &'static str,
    target_ratio: f64,
    measurements: Vec<Measurement>,
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let mut measurements = Vec::new();
    for value_bytes in VALUE_SIZES {
        for mode in ["initial-list", "live-creates"] {
            let dir = tempfile::tempdir()?;
            let store: Arc<dyn Storage> =
                Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?);
            let measurement = measure(store, mode, value_bytes).await?;
            println!(
                "{mode:>13} {value_bytes:>6} B x {}: payload {:>10} B, cache heap {:>10} B, \
                 ratio {:.3}, {:.0} B/object overhead",
                measurement.objects,
                measurement.payload_bytes,
                measurement.cache_heap_bytes,
                measurement.ratio,
                measurement.overhead_bytes_per_object
            );
            measurements.push(measurement);
        }
    }
    let report = Report {
        benchmark: "cache_memory",
        date_utc: utc_date(),
        backend: "embedded",
        target_ratio: TARGET_RATIO,
        measurements,
    };
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the storage crate lives in the workspace")?;
    let dir = workspace.join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("cache-memory-{}.json", report.date_utc));
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

async fn measure(
    store: Arc<dyn Storage>,
    mode: &'static str,
    value_bytes: usize,
) -> anyhow::Result<Measurement> {
    let options = CacheOptions {
        history_capacity: OBJECTS,
        ..CacheOptions::default()
    };
    let cache = if mode == "initial-list" {
        load(&store, value_bytes).await?;
        settle_backend(&store).await?;
        start(store.clone(), options).await?
    } else {
        let cache = start(store.clone(), options).await?;
        let last = load(&store, value_bytes).await?;
        if !cache.wait_for_revision(last, Duration::from_secs(60)).await {
            bail!("the cache did not catch up with the writes");
        }
        cache
    };
    let stats = cache.stats();
    if stats.objects != OBJECTS {
        bail!(
            "the cache holds {} objects, expected {OBJECTS}",
            stats.objects
        );
    }
    let with_cache = settled_allocation().await;
    cache.stop().await;
    let without_cache = settled_allocation().await;
    let cache_heap_bytes = with_cache.saturating_sub(without_cache);
    Ok(Measurement {
        mode,
        value_bytes,
        objects: stats.objects,
        payload_bytes: stats.payload_bytes,
        history_events: stats.history_events,
        cache_heap_bytes,
        ratio: cache_heap_bytes as f64 / stats.payload_bytes as f64,
        overhead_bytes_per_object: (cache_heap_bytes as f64 - stats.payload_bytes as f64)
            / stats.objects as f64,
    })
}

async fn start(store: Arc<dyn Storage>, options: CacheOptions) -> anyhow::Result<WatchCache> {
    let cache = WatchCache::new(store, vec![PREFIX.to_string()], options)?;
    if !cache.wait_until_ready(Duration::from_secs(60)).await {
        bail!("the cache did not become ready");
    }
    Ok(cache)
}

/// Writes the objects; returns the last revision written.
async fn load(store: &Arc<dyn Storage>, value_bytes: usize) -> anyhow::Result<u64> {
    let revisions = futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let store = store.clone();
            async move {
                let key = format!("{PREFIX}node-{i:05}");
                store
                    .create(&key, object(i, value_bytes))
                    .await
                    .with_context(|| format!("creating {key}"))
                    .map(|kv| kv.mod_revision)
            }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await;
    let mut last = 0;
    for revision in revisions {
        last = last.max(revision?);
    }
    Ok(last)
}

/// A JSON document of exactly `size` bytes, different for every `i`.
fn object(i: usize, size: usize) -> Bytes {
    let head = format!(
        r#"{{"apiVersion":"apps.kruise.io/v1alpha1","kind":"NodeImage","metadata":{{"name":"node-{i:05}"}},"spec":{{"pad":""#
    );
    let tail = r#""}}"#;
    let mut text = head;
    let filler = size.saturating_sub(text.len() + tail.len());
    text.extend(
        std::iter::repeat_n(b"abcdefghijklmnopqrstuvwxyz0123456789", filler / 36 + 1)
            .flatten()
            .take(filler)
            .map(|&b| b as char),
    );
    text.push_str(tail);
    Bytes::from(text)
}

/// Lists everything once through the backend so its client reaches a steady state before the
/// baseline is taken.
async fn settle_backend(store: &Arc<dyn Storage>) -> anyhow::Result<()> {
    let mut options = ListOptions {
        limit: Some(500),
        ..ListOptions::default()
    };
    loop {
        let page = store.list(PREFIX, &options).await?;
        match page.continue_token {
            Some(token) => options.continue_token = Some(token),
            None => return Ok(()),
        }
    }
}

/// The allocated byte count once it stops moving (the backend frees the upstream watch's
/// buffers in its own tasks, a moment after the cache stopped). Bounded: gives up waiting
/// after 5 s.
async fn settled_allocation() -> usize {
    let mut last = ALLOCATOR.allocated();
    let mut unchanged = 0;
    for _ in 0..500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = ALLOCATOR.allocated();
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
        if unchanged == 5 {
            break;
        }
    }
    last
}

fn utc_date() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}
