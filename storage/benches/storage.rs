//! Storage benchmark: write throughput and latency through [`EtcdStore`] next to raw etcd-client
//! puts on the same etcd, in the same run.
//!
//! Run: `cargo bench -p prepull-storage --bench storage` (starts its own etcd; under 2 minutes).
//! Figures go to `bench/results/storage-<UTC date>.json` and `.md` at the repository root.
//!
//! Cells: {create, CAS update} x {1, 16, 64} concurrent writers x {ours, raw}. Each writer loops
//! for a fixed time; creates write fresh keys, updates rewrite the writer's own key with the
//! revision it last wrote (so no update ever conflicts). The raw baseline is a plain put of the
//! same bytes: what etcd costs without our transaction, envelope and translation.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp};
use prepull_storage::Storage;
use prepull_storage::etcd::{EtcdConfig, EtcdStore};
use prepull_testbed::Etcd;
use serde::Serialize;
use tokio::time::Instant;

/// How long each layer runs per cell, in [`ROUNDS`] slices of [`SLICE_TIME`] (each after a
/// short warm-up).
const SLICE_TIME: Duration = Duration::from_millis(1500);
const ROUNDS: u32 = 3;
const CELL_TIME: Duration = Duration::from_millis(1500 * ROUNDS as u64);
const WARM_UP: Duration = Duration::from_millis(200);
const LAYERS: [Layer; 3] = [Layer::Ours, Layer::Raw, Layer::RawTxn];
const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Size of one value: a typical NodeImage status is a few KB.
const VALUE_BYTES: usize = 2048;
/// Share of raw throughput our layer should keep.
const TARGET_RATIO: f64 = 0.8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Operation {
    Create,
    Update,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Layer {
    /// Through `EtcdStore`.
    Ours,
    /// Plain etcd-client puts.
    Raw,
    /// Our etcd transaction sent with plain etcd-client: separates what the transaction costs
    /// etcd from what our client side costs.
    RawTxn,
}

/// What one cell measured.
#[derive(Debug, Serialize)]
struct Measurement {
    operations: u64,
    seconds: f64,
    ops_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Ours next to raw for one operation and concurrency.
#[derive(Debug, Serialize)]
struct Comparison {
    operation: Operation,
    writers: usize,
    ours: Measurement,
    raw: Measurement,
    raw_txn: Measurement,
    /// ours.ops_per_second / raw.ops_per_second.
    ratio: f64,
    meets_target: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    date: String,
    etcd_version: String,
    value_bytes: usize,
    cell_seconds: f64,
    target_ratio: f64,
    writes: Vec<Comparison>,
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let store = EtcdStore::connect(EtcdConfig::new([etcd.endpoint()])).await?;
    let raw = Client::connect([etcd.endpoint()], None).await?;
    let value = Bytes::from(vec![b'x'; VALUE_BYTES]);

    let mut writes = Vec::new();
    for operation in [Operation::Create, Operation::Update] {
        for writers in CONCURRENCY {
            let setup = Setup {
                store: store.clone(),
                raw: raw.clone(),
                value: value.clone(),
                operation,
                writers,
            };
            // Layers take turns in short slices so a drift of the machine's load (or etcd's
            // growing database) spreads over all of them.
            let mut latencies: [Vec<Duration>; 3] = Default::default();
            for round in 0..ROUNDS {
                for (slot, layer) in LAYERS.into_iter().enumerate() {
                    latencies[slot].extend(setup.run_slice(layer, round).await?);
                }
            }
            let [our_figures, raw_figures, raw_txn_figures] = latencies.map(Measurement::of);
            let ratio = our_figures.ops_per_second / raw_figures.ops_per_second;
            eprintln!(
                "{operation:?} x{writers}: ours {:.0}/s, raw put {:.0}/s, raw txn {:.0}/s, ratio {ratio:.2}",
                our_figures.ops_per_second,
                raw_figures.ops_per_second,
                raw_txn_figures.ops_per_second
            );
            writes.push(Comparison {
                operation,
                writers,
                ours: our_figures,
                raw: raw_figures,
                raw_txn: raw_txn_figures,
                ratio,
                meets_target: ratio >= TARGET_RATIO,
            });
        }
    }

    let report = Report {
        date: jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
        etcd_version: etcd_version(),
        value_bytes: VALUE_BYTES,
        cell_seconds: CELL_TIME.as_secs_f64(),
        target_ratio: TARGET_RATIO,
        writes,
    };
    write_report(&report)
}

/// Everything one cell needs.
struct Setup {
    store: EtcdStore,
    raw: Client,
    value: Bytes,
    operation: Operation,
    writers: usize,
}

impl Setup {
    /// Runs `writers` concurrent loops for the warm-up plus [`SLICE_TIME`]; returns the
    /// latencies of the operations started after the warm-up.
    async fn run_slice(&self, layer: Layer, round: u32) -> anyhow::Result<Vec<Duration>> {
        let cell = format!("{:?}-{:?}-{}", self.operation, layer, self.writers).to_lowercase();
        let measure_from = Instant::now() + WARM_UP;
        let stop = measure_from + SLICE_TIME;
        let mut tasks = Vec::new();
        for writer in 0..self.writers {
            let writer = Writer {
                key_prefix: format!("/bench/{cell}/{round}/{writer}"),
                store: self.store.clone(),
                raw: self.raw.clone(),
                value: self.value.clone(),
                operation: self.operation,
                layer,
            };
            tasks.push(tokio::spawn(writer.run(measure_from, stop)));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await??);
        }
        Ok(latencies)
    }
}

impl Measurement {
    /// Figures of all slices of one layer in a cell.
    fn of(mut latencies: Vec<Duration>) -> Measurement {
        let seconds = CELL_TIME.as_secs_f64();
        latencies.sort_unstable();
        Measurement {
            operations: latencies.len() as u64,
            seconds,
            ops_per_second: latencies.len() as f64 / seconds,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
        }
    }
}

/// One concurrent writer of a cell.
struct Writer {
    key_prefix: String,
    store: EtcdStore,
    raw: Client,
    value: Bytes,
    operation: Operation,
    layer: Layer,
}

impl Writer {
    /// Writes until `stop`; returns the latencies of the writes started at or after
    /// `measure_from`.
    async fn run(mut self, measure_from: Instant, stop: Instant) -> anyhow::Result<Vec<Duration>> {
        let own_key = format!("{}/own", self.key_prefix);
        let mut revision = match self.operation {
            Operation::Update => {
                self.store
                    .create(&own_key, self.value.clone())
                    .await?
                    .mod_revision
            }
            Operation::Create => 0,
        };
        // The same bytes our layer writes, envelope included.
        let sealed = prepull_storage::envelope::seal(&self.value);
        let mut latencies = Vec::new();
        let mut sequence = 0u64;
        loop {
            let began = Instant::now();
            if began >= stop {
                return Ok(latencies);
            }
            sequence += 1;
            let key = match self.operation {
                Operation::Create => format!("{}/{sequence}", self.key_prefix),
                Operation::Update => own_key.clone(),
            };
            match (self.layer, self.operation) {
                (Layer::Ours, Operation::Create) => {
                    self.store.create(&key, self.value.clone()).await?;
                }
                (Layer::Ours, Operation::Update) => {
                    revision = self
                        .store
                        .update(&key, self.value.clone(), revision)
                        .await
                        .with_context(|| format!("updating {key}"))?
                        .mod_revision;
                }
                (Layer::Raw, _) => {
                    self.raw
                        .put(format!("/registry{key}"), sealed.clone(), None)
                        .await?;
                }
                (Layer::RawTxn, operation) => {
                    revision = self.raw_txn(operation, &key, &sealed, revision).await?;
                }
            }
            if began >= measure_from {
                latencies.push(began.elapsed());
            }
        }
    }
}

impl Writer {
    /// The transaction [`EtcdStore`] sends for `operation`, sent with plain etcd-client; returns
    /// the written revision.
    async fn raw_txn(
        &mut self,
        operation: Operation,
        key: &str,
        sealed: &Bytes,
        expected: u64,
    ) -> anyhow::Result<u64> {
        let key = format!("/registry{key}");
        let txn = match operation {
            Operation::Create => Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, sealed.clone(), None)]),
            Operation::Update => Txn::new()
                .when([Compare::mod_revision(
                    key.clone(),
                    CompareOp::Equal,
                    expected as i64,
                )])
                .and_then([
                    TxnOp::put(key.clone(), sealed.clone(), None),
                    TxnOp::get(key.clone(), Some(GetOptions::new().with_keys_only())),
                ])
                .or_else([TxnOp::get(key, None)]),
        };
        let response = self.raw.txn(txn).await?;
        anyhow::ensure!(response.succeeded(), "raw transaction lost its comparison");
        Ok(response
            .header()
            .map_or(0, |header| header.revision() as u64))
    }
}

/// The `q` quantile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn etcd_version() -> String {
    std::process::Command::new(prepull_testbed::ETCD_BINARY)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Writes the JSON and markdown reports under `bench/results/` at the repository root.
fn write_report(report: &Report) -> anyhow::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results");
    std::fs::create_dir_all(&dir)?;
    let json = dir.join(format!("storage-{}.json", report.date));
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")?;
    let markdown = dir.join(format!("storage-{}.md", report.date));
    std::fs::write(&markdown, render_markdown(report))?;
    eprintln!("wrote {} and {}", json.display(), markdown.display());
    Ok(())
}

fn render_markdown(report: &Report) -> String {
    let mut out = format!(
        "# Storage benchmark, {}\n\n{}; {} B values; {} s per layer and cell, layers \
         interleaved; raw put = plain etcd-client put of the same sealed bytes; raw txn = our \
         etcd transaction sent with plain etcd-client. Target: ours >= {:.0}% of raw put.\n\n\
         | operation | writers | ours ops/s | raw put ops/s | ours/raw | raw txn ops/s | ours p50 ms | ours p99 ms | raw p50 ms | raw p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        report.date,
        report.etcd_version,
        report.value_bytes,
        report.cell_seconds,
        report.target_ratio * 100.0
    );
    for cell in &report.writes {
        out.push_str(&format!(
            "| {:?} | {} | {:.0} | {:.0} | {:.1}%{} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            cell.operation,
            cell.writers,
            cell.ours.ops_per_second,
            cell.raw.ops_per_second,
            cell.ratio * 100.0,
            if cell.meets_target {
                ""
            } else {
                " (below target)"
            },
            cell.raw_txn.ops_per_second,
            cell.ours.p50_ms,
            cell.ours.p99_ms,
            cell.raw.p50_ms,
            cell.raw.p99_ms,
        ));
    }
    out.push_str(
        "\nThe watch cache's memory is measured by the `cache_memory` bench (same command).\n",
    );
    out
}
