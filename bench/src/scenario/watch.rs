//! S3 watch fan-out: W watchers each on one NodeImage (`fieldSelector=metadata.name=...`, as
//! node agents watch), while one writer patches random watched NodeImages at a steady rate.
//! Every patch carries its send time; each watcher notes when the event arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::objects::{node_images_path, node_name, stamp_of, stamp_patch};
use crate::process::CpuMeter;
use crate::stats::{Samples, round3};
use crate::system::Endpoint;

/// Watch streams per connection (below HTTP/2's usual 250-stream limit).
const WATCHERS_PER_CONNECTION: usize = 100;
/// How long events may still arrive after the last write returned.
const DRAIN: Duration = Duration::from_secs(10);

/// How the watch scenario runs.
#[derive(Clone, Copy, Debug)]
pub struct WatchLoad {
    pub watchers: usize,
    pub writes_per_second: u32,
    pub duration: Duration,
}

pub async fn run(endpoint: &Endpoint, load: WatchLoad) -> Result<Value> {
    let connections = endpoint
        .connect(load.watchers.div_ceil(WATCHERS_PER_CONNECTION))
        .await?;
    let writer = &endpoint.connect(1).await?[0];
    let list: Value = serde_json::from_slice(
        &writer
            .ok(
                "GET",
                &format!("{}?limit=1", node_images_path()),
                None,
                Bytes::new(),
            )
            .await?,
    )?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .context("the list's resourceVersion")?
        .to_string();
    let epoch = Arc::new(Instant::now());
    let opening = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let counted = Arc::new(AtomicUsize::new(0));
    let mut watchers = Vec::with_capacity(load.watchers);
    for i in 0..load.watchers {
        let connection = &connections[i / WATCHERS_PER_CONNECTION];
        let path = format!(
            "{}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{}",
            node_images_path(),
            node_name(i)
        );
        let response = connection.start("GET", &path, None, Bytes::new()).await?;
        ensure!(
            response.status().is_success(),
            "watch {path}: {}",
            response.status()
        );
        watchers.push(tokio::spawn(receive(
            response.into_body(),
            epoch.clone(),
            counted.clone(),
            stopped.clone(),
        )));
    }
    let open_s = opening.elapsed().as_secs_f64();

    let meter = CpuMeter::start(endpoint.pid)?;
    let writes = (load.writes_per_second as f64 * load.duration.as_secs_f64()) as usize;
    let mut write_latency = Samples::default();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / load.writes_per_second);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Vec::with_capacity(writes);
    let writing = Instant::now();
    for _ in 0..writes {
        ticker.tick().await;
        let writer = writer.clone();
        let target = node_name(fastrand::usize(..load.watchers));
        let sent = epoch.elapsed().as_nanos();
        pending.push(tokio::spawn(async move {
            let t = Instant::now();
            writer
                .ok(
                    "PATCH",
                    &format!("{}/{target}", node_images_path()),
                    Some("application/merge-patch+json"),
                    stamp_patch(sent),
                )
                .await?;
            anyhow::Ok(t.elapsed())
        }));
    }
    for write in pending {
        write_latency.push(write.await??);
    }
    let write_elapsed = writing.elapsed();
    // Events of the last writes may still be on their way: give them the drain time
    // (watchers stop early once every write was delivered).
    let drain_until = Instant::now() + DRAIN;
    while counted.load(Ordering::Relaxed) < writes && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = meter.stop()?;
    stop.send(true).ok();
    let mut delivery = Samples::default();
    for watcher in watchers {
        watcher.await?.into_iter().for_each(|d| delivery.push(d));
    }
    let delivered = delivery.len();
    Ok(json!({
        "watchers": load.watchers,
        "writes": writes,
        "writes_per_second_target": load.writes_per_second,
        "open_watchers_s": round3(open_s),
        "write": write_latency.summary(write_elapsed),
        "delivery": delivery.summary(write_elapsed),
        "events_delivered": delivered,
        "events_missing": writes.saturating_sub(delivered),
        "server_cpu_s": round3(cpu.server.as_secs_f64()),
        "server_cpu_ms_per_event": round3(cpu.server.as_secs_f64() * 1e3 / delivered.max(1) as f64),
        "generator_cpu_s": round3(cpu.generator.as_secs_f64()),
    }))
}

/// Reads a watch body until `stop` changes (or the stream ends), returning the delivery
/// latency of each stamped event.
async fn receive(
    mut body: hyper::body::Incoming,
    epoch: Arc<Instant>,
    counted: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<Duration> {
    let mut received = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => break,
        };
        let Some(Ok(frame)) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = epoch.elapsed().as_nanos();
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            if let Some(sent) = stamp_of(&line) {
                received.push(Duration::from_nanos(now.saturating_sub(sent) as u64));
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    received
}
