//! Load benchmark of the API server: `cargo bench -p prepull-apiserver --bench load`.
//!
//! Starts the real `prepull-apiserver` binary (standalone, embedded store, in a temp dir) and
//! drives it over HTTPS/HTTP2 with the admin's client certificate:
//! 1. create N ImagePullJobs (N = 10,000), C requests in flight over 4 connections;
//! 2. get N random ones;
//! 3. list all N, whole and in pages of 500;
//! 4. W watchers (1,000) on ONE connection, as kube-apiserver's aggregator multiplexes them,
//!    while one writer patches an object M times at a steady pace: write latency, and the
//!    delivery latency of every event to every watcher (from the start of its write).
//!
//! Reports p50/p99/max latency and throughput per phase and the server's RSS after each phase
//! (VmRSS, and VmHWM at the end), to `bench/results/apiserver-load-<date>.{json,md}`.
//! Sizes can be lowered for a quick run: `PREPULL_BENCH_OBJECTS`, `PREPULL_BENCH_WATCHERS`,
//! `PREPULL_BENCH_WRITES`, `PREPULL_BENCH_CONCURRENCY`.

mod client;
mod server;
mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use client::Connection;
use server::Server;
use stats::Samples;

const NAMESPACE: &str = "bench";
/// Pause between the writer's patches during the watch phase.
const WRITE_PACE: Duration = Duration::from_millis(20);
/// How long watchers may take to receive every event after the last write.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

struct Sizes {
    objects: usize,
    watchers: usize,
    writes: usize,
    concurrency: usize,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn jobs_path() -> String {
    format!("/apis/apps.kruise.io/v1alpha1/namespaces/{NAMESPACE}/imagepulljobs")
}

fn job(i: usize) -> Bytes {
    Bytes::from(
        json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": format!("job-{i:05}"), "namespace": NAMESPACE, "labels": {"app": "bench", "shard": (i % 10).to_string()}},
            "spec": {
                "image": format!("registry.example.com/team/app-{i}:1.0.{}", i % 7),
                "parallelism": 5,
                "selector": {"matchLabels": {"node-pool": "general"}},
                "completionPolicy": {"type": "Always", "activeDeadlineSeconds": 1200, "ttlSecondsAfterFinished": 300},
                "pullPolicy": {"backoffLimit": 3, "timeoutSeconds": 300}
            }
        })
        .to_string(),
    )
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<()> {
    let sizes = Sizes {
        objects: env_or("PREPULL_BENCH_OBJECTS", 10_000),
        watchers: env_or("PREPULL_BENCH_WATCHERS", 1_000),
        writes: env_or("PREPULL_BENCH_WRITES", 100),
        concurrency: env_or("PREPULL_BENCH_CONCURRENCY", 64),
    };
    let server = Server::start().await?;
    let tls = client::tls_config(&server.pki_dir())?;
    let mut connections = Vec::new();
    for _ in 0..4 {
        connections.push(Connection::open(server.port, tls.clone()).await?);
    }
    let mut results = serde_json::Map::new();
    let mut rss = serde_json::Map::new();
    rss.insert("idle_kib".into(), server.rss_kib()?.into());

    eprintln!("create: {} objects", sizes.objects);
    let (samples, elapsed) = timed(
        &connections,
        sizes.objects,
        sizes.concurrency,
        |conn, i| async move {
            conn.ok("POST", &jobs_path(), Some("application/json"), job(i))
                .await
                .map(drop)
        },
    )
    .await?;
    results.insert("create".into(), samples.summary(elapsed));
    rss.insert("after_create_kib".into(), server.rss_kib()?.into());

    eprintln!("get: {} objects", sizes.objects);
    let objects = sizes.objects;
    let (samples, elapsed) = timed(
        &connections,
        sizes.objects,
        sizes.concurrency,
        |conn, _| async move {
            let i = fastrand::usize(..objects);
            conn.ok(
                "GET",
                &format!("{}/job-{i:05}", jobs_path()),
                None,
                Bytes::new(),
            )
            .await
            .map(drop)
        },
    )
    .await?;
    results.insert("get".into(), samples.summary(elapsed));

    eprintln!("list: all {} objects", sizes.objects);
    let mut whole = Samples::default();
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..10 {
        let t = Instant::now();
        let body = connections[0]
            .ok("GET", &jobs_path(), None, Bytes::new())
            .await?;
        whole.push(t.elapsed());
        bytes = body.len();
        let list: Value = serde_json::from_slice(&body)?;
        anyhow::ensure!(list["items"].as_array().map(Vec::len) == Some(sizes.objects));
    }
    let mut summary = whole.summary(started.elapsed());
    summary["response_bytes"] = bytes.into();
    results.insert("list_all".into(), summary);
    let mut pages = Samples::default();
    let started = Instant::now();
    for _ in 0..5 {
        let t = Instant::now();
        let mut token: Option<String> = None;
        loop {
            let path = match &token {
                Some(token) => format!("{}?limit=500&continue={token}", jobs_path()),
                None => format!("{}?limit=500", jobs_path()),
            };
            let page: Value = serde_json::from_slice(
                &connections[0].ok("GET", &path, None, Bytes::new()).await?,
            )?;
            match page["metadata"]["continue"].as_str() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        pages.push(t.elapsed());
    }
    results.insert("list_paged_500".into(), pages.summary(started.elapsed()));
    rss.insert("after_list_kib".into(), server.rss_kib()?.into());

    eprintln!(
        "watch: {} watchers, {} writes",
        sizes.watchers, sizes.writes
    );
    let watch = watch_phase(&server, tls, &connections[0], &sizes).await?;
    results.insert("watch".into(), watch);
    rss.insert("with_watchers_kib".into(), server.rss_kib()?.into());
    rss.insert("peak_kib".into(), server.peak_rss_kib()?.into());

    let date = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let report = json!({
        "benchmark": "apiserver-load",
        "date": date,
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "setup": {
            "storage": "embedded (redb) behind the watch cache",
            "transport": "HTTPS, HTTP/2, client certificate; 4 connections for create/get/list, 1 for all watchers",
            "objects": sizes.objects,
            "concurrency": sizes.concurrency,
            "watchers": sizes.watchers,
            "writes": sizes.writes,
            "write_pace_ms": WRITE_PACE.as_millis() as u64,
        },
        "results": results,
        "server_rss": rss,
    });
    write_report(&report, &date)?;
    server.stop().await;
    Ok(())
}

/// Runs `n` calls of `call` with `concurrency` in flight, spread over `connections`.
async fn timed<F, Fut>(
    connections: &[Connection],
    n: usize,
    concurrency: usize,
    call: F,
) -> Result<(Samples, Duration)>
where
    F: Fn(Connection, usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let started = Instant::now();
    let call = &call;
    let latencies: Vec<Result<Duration>> = futures::stream::iter(0..n)
        .map(|i| {
            let conn = connections[i % connections.len()].clone();
            async move {
                let t = Instant::now();
                call(conn, i).await?;
                Ok(t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut samples = Samples::default();
    for latency in latencies {
        samples.push(latency?);
    }
    Ok((samples, elapsed))
}

/// W watchers on one connection, one writer patching `job-00000` `writes` times.
async fn watch_phase(
    server: &Server,
    tls: Arc<rustls::ClientConfig>,
    writer: &Connection,
    sizes: &Sizes,
) -> Result<Value> {
    let list: Value = serde_json::from_slice(
        &writer
            .ok(
                "GET",
                &format!("{}?limit=1", jobs_path()),
                None,
                Bytes::new(),
            )
            .await?,
    )?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .context("list resourceVersion")?
        .to_string();
    let watch_connection = Connection::open(server.port, tls).await?;
    let opened = Instant::now();
    let mut watchers = Vec::new();
    for _ in 0..sizes.watchers {
        let response = watch_connection
            .start(
                "GET",
                &format!("{}?watch=true&resourceVersion={rv}", jobs_path()),
                None,
                Bytes::new(),
            )
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "watch: {}",
            response.status()
        );
        let writes = sizes.writes;
        watchers.push(tokio::spawn(receive(response.into_body(), writes)));
    }
    let open_all = opened.elapsed();

    let patch = |seq: usize| {
        Bytes::from(json!({"metadata": {"labels": {"seq": seq.to_string()}}}).to_string())
    };
    let mut write_latency = Samples::default();
    let mut write_starts = Vec::with_capacity(sizes.writes);
    let writing = Instant::now();
    for seq in 0..sizes.writes {
        let t = Instant::now();
        write_starts.push(t);
        writer
            .ok(
                "PATCH",
                &format!("{}/job-00000", jobs_path()),
                Some("application/merge-patch+json"),
                patch(seq),
            )
            .await?;
        write_latency.push(t.elapsed());
        tokio::time::sleep(WRITE_PACE).await;
    }
    let write_elapsed = writing.elapsed();

    let mut delivery = Samples::default();
    let mut last = writing;
    let mut missing = 0;
    for watcher in watchers {
        let received = watcher.await?;
        missing += sizes.writes - received.len();
        for (seq, at) in received {
            delivery.push(at.saturating_duration_since(write_starts[seq]));
            last = last.max(at);
        }
    }
    let delivered = delivery.len();
    let mut summary = json!({
        "open_watchers_s": (open_all.as_secs_f64() * 1e3).round() / 1e3,
        "write": write_latency.summary(write_elapsed),
        "delivery": delivery.summary(last.duration_since(writing)),
        "events_delivered": delivered,
        "events_missing": missing,
    });
    summary["delivery"]["note"] =
        "latency from the start of the write to the event at the watcher".into();
    Ok(summary)
}

/// Reads a watch body until `writes` events carrying a `seq` label arrived (or the deadline),
/// noting when each arrived.
async fn receive(mut body: hyper::body::Incoming, writes: usize) -> Vec<(usize, Instant)> {
    let mut received = Vec::with_capacity(writes);
    let mut buffer: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT + WRITE_PACE * writes as u32;
    while received.len() < writes {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => break,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            if let Some(seq) = seq_of(&line) {
                received.push((seq, now));
            }
        }
    }
    received
}

/// The `seq` label value in an event line.
fn seq_of(line: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"\"seq\":\"";
    let start = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&line[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

fn write_report(report: &Value, date: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join(format!("apiserver-load-{date}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(report)? + "\n")?;
    let md_path = dir.join(format!("apiserver-load-{date}.md"));
    std::fs::write(&md_path, markdown(report))?;
    eprintln!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

fn markdown(report: &Value) -> String {
    let r = &report["results"];
    let row = |name: &str, s: &Value| {
        format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            s["count"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["throughput_per_s"]
        )
    };
    let mut out = format!(
        "# API server load benchmark ({})\n\n`cargo bench -p prepull-apiserver --bench load`. Setup: {}.\n\n",
        report["date"].as_str().unwrap_or_default(),
        report["setup"]
    );
    out.push_str(
        "| phase | requests | p50 ms | p99 ms | max ms | per second |\n|---|---|---|---|---|---|\n",
    );
    out.push_str(&row("create", &r["create"]));
    out.push_str(&row("get", &r["get"]));
    out.push_str(&row("list all (whole)", &r["list_all"]));
    out.push_str(&row("list all (pages of 500)", &r["list_paged_500"]));
    out.push_str(&row("watch phase: writes", &r["watch"]["write"]));
    out.push_str(&row(
        "watch phase: event deliveries",
        &r["watch"]["delivery"],
    ));
    out.push_str(&format!(
        "\nWhole list response: {} bytes. Watchers opened in {} s; events missing: {}.\n\n",
        r["list_all"]["response_bytes"],
        r["watch"]["open_watchers_s"],
        r["watch"]["events_missing"]
    ));
    out.push_str("Server RSS (KiB):\n\n| idle | after create | after list | with watchers | peak |\n|---|---|---|---|---|\n");
    let rss = &report["server_rss"];
    out.push_str(&format!(
        "| {} | {} | {} | {} | {} |\n",
        rss["idle_kib"],
        rss["after_create_kib"],
        rss["after_list_kib"],
        rss["with_watchers_kib"],
        rss["peak_kib"]
    ));
    out
}
