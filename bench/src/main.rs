//! `prepull-bench`: Prepull's API server side by side with kube-apiserver serving the same
//! kinds as CRDs. Run it with `bench/run.sh` (see bench/README.md).
//!
//! Start reading at [`run`]: each system is started on its own etcd ([`system`]), measured by
//! the same [`scenario`]s from this one load generator, stopped, and the figures of both go
//! to [`report`].

mod crd;
mod h2;
mod objects;
mod process;
mod report;
mod scenario;
mod stats;
mod system;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

use scenario::watch::WatchLoad;
use scenario::{hop, memory, reads, watch, writes};
use system::{Aggregated, CrdPath, Endpoint, Prepull, System};

/// Side-by-side benchmark: Prepull versus kube-apiserver with CRDs, same machine, same run.
#[derive(Debug, Parser)]
#[command(name = "prepull-bench")]
struct Options {
    /// NodeImages for the list, watch and first memory figures.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// NodeImages for the second memory figure.
    #[arg(long, default_value_t = 50_000)]
    large_objects: usize,
    /// Seconds each write measurement (operation x client count) runs.
    #[arg(long, default_value_t = 10)]
    write_seconds: u64,
    /// Watchers in the fan-out scenario.
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Writes per second during the fan-out scenario.
    #[arg(long, default_value_t = 100)]
    watch_writes_per_second: u32,
    /// Seconds of writing during the fan-out scenario.
    #[arg(long, default_value_t = 20)]
    watch_seconds: u64,
    /// The `prepull-apiserver` binary (default: next to this one; bench/run.sh builds both
    /// in release mode).
    #[arg(long)]
    prepull_apiserver: Option<PathBuf>,
    /// Prepull keeps its objects in its embedded store instead of etcd (the local default).
    #[arg(long)]
    prepull_embedded: bool,
    /// Leave out S5 (Prepull directly versus through kube-apiserver's aggregation layer).
    #[arg(long)]
    skip_hop: bool,
    /// Keep the systems already measured in `<out>/partial.json` (by an earlier run with the
    /// same options that stopped later) and measure only the rest.
    #[arg(long)]
    resume: bool,
    /// Measure S1 only (to profile the write path; the report then lacks the other figures).
    #[arg(long)]
    writes_only: bool,
    /// Measure only one system (for trying things out; the report needs both).
    #[arg(long, value_enum)]
    only: Option<Which>,
    /// Where the figures go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    Crd,
    Prepull,
}

/// Object sizes of the list scenario and how many lists each gets.
const LIST_SIZES: [(usize, usize); 3] = [(2_000, 10), (10_000, 5), (40_000, 3)];

fn main() -> Result<()> {
    let options = Options::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    let mut systems = if options.resume {
        report::read_partial(&options.out)?
    } else {
        serde_json::Map::new()
    };
    if options.only != Some(Which::Prepull) && !systems.contains_key("crd") {
        eprintln!("kube-apiserver + CRDs: starting");
        let system = CrdPath::start().await?;
        systems.insert("crd".into(), measure(system.endpoint(), &options).await?);
        report::write_partial(&systems, &options.out)?;
    }
    if options.only != Some(Which::Crd) && !systems.contains_key("prepull") {
        let binary = options
            .prepull_apiserver
            .clone()
            .unwrap_or_else(system::default_prepull_binary);
        eprintln!("prepull ({}): starting", binary.display());
        let system = Prepull::start(&binary, options.prepull_embedded).await?;
        systems.insert(
            "prepull".into(),
            measure(system.endpoint(), &options).await?,
        );
        report::write_partial(&systems, &options.out)?;
    }
    let mut aggregation = Value::Null;
    if options.only.is_none() && !options.skip_hop {
        let binary = options
            .prepull_apiserver
            .clone()
            .unwrap_or_else(system::default_prepull_binary);
        eprintln!("S5: prepull behind kube-apiserver's aggregation layer: starting");
        let system = Aggregated::start(&binary).await?;
        aggregation = hop::run(
            &system.direct,
            &system.through_kube,
            Duration::from_secs(options.write_seconds),
        )
        .await?;
    }
    let results = json!({
        "benchmark": "prepull versus kube-apiserver with CRDs",
        "date": jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
        "machine": machine(),
        "setup": {
            "objects": options.objects,
            "large_objects": options.large_objects,
            "write_seconds": options.write_seconds,
            "write_clients": writes::CLIENTS,
            "list_sizes_bytes": LIST_SIZES.map(|(size, _)| size),
            "watchers": options.watchers,
            "watch_writes_per_second": options.watch_writes_per_second,
            "watch_seconds": options.watch_seconds,
            "transport": "HTTPS, HTTP/2, admin client certificate; JSON",
            "storage": "one etcd per system (Debian etcd-server, data in a temp dir on disk)",
            "prepull": if options.prepull_embedded {
                "standalone, embedded store, scheduler off (the CRD path runs no controller)"
            } else {
                "standalone, etcd storage, scheduler off (the CRD path runs no controller)"
            },
        },
        "systems": systems,
        "aggregation_hop": aggregation,
    });
    report::write(&results, &options.out)
}

/// Every scenario against one system, in order. The small objects come first (writes, the
/// 2 KB list, watch fan-out, then memory at both object counts by adding to the same
/// collection) and the big lists last: a server's memory after lists of 40 KB objects (its
/// watch-cache history still holds them) would otherwise weigh on every later figure, and
/// kube-apiserver filling 50k objects after that phase ran this 23 GB machine out of memory.
async fn measure(endpoint: &Endpoint, options: &Options) -> Result<Value> {
    let mut out = json!({"name": endpoint.name, "memory": {}, "lists": []});
    out["memory"]["idle"] = memory::sample(endpoint)?;

    eprintln!("{}: S1 writes", endpoint.name);
    out["writes"] = writes::run(endpoint, Duration::from_secs(options.write_seconds)).await?;
    if options.writes_only {
        return Ok(out);
    }

    for (index, (size, repetitions)) in LIST_SIZES.into_iter().enumerate() {
        eprintln!(
            "{}: S2 list of {} x {size} B",
            endpoint.name, options.objects
        );
        if index > 0 {
            reads::delete_all(endpoint).await?;
        }
        let fill = reads::fill(endpoint, 0..options.objects, size).await?;
        // A server that cannot answer the list (kube-apiserver's 60 s request timeout on big
        // lists) is a result, not the end of the run.
        let list = match reads::list(endpoint, options.objects, repetitions).await {
            Ok(list) => list,
            Err(err) => json!({"error": format!("{err:#}")}),
        };
        out["lists"]
            .as_array_mut()
            .expect("an array")
            .push(reads::size_result(size, fill, list));
        if index == 0 {
            out["memory"]["objects"] = memory::sample(endpoint)?;
            eprintln!("{}: S3 watch fan-out", endpoint.name);
            out["watch"] = watch::run(
                endpoint,
                WatchLoad {
                    watchers: options.watchers.min(options.objects),
                    writes_per_second: options.watch_writes_per_second,
                    duration: Duration::from_secs(options.watch_seconds),
                },
            )
            .await?;
            eprintln!(
                "{}: S4 memory with {} NodeImages",
                endpoint.name, options.large_objects
            );
            let total = options.large_objects.max(options.objects);
            reads::fill(endpoint, options.objects..total, size).await?;
            let listed = reads::list(endpoint, total, 1).await;
            out["memory"]["large_objects"] = memory::sample(endpoint)?;
            if let Err(err) = listed {
                out["memory"]["large_objects"]["list_error"] = format!("{err:#}").into();
            }
        }
    }
    Ok(out)
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
    })
}
