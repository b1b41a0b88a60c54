//! The figures of one run: `<date>.json` (everything measured), `<date>.md` (the summary with
//! the ratios and targets) and two PNG charts, in the results directory.

mod charts;
mod markdown;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

pub fn write(results: &Value, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let date = results["date"].as_str().unwrap_or("undated");
    let json_path = dir.join(format!("{date}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(results)? + "\n")?;
    eprintln!("wrote {}", json_path.display());
    let both =
        results["systems"].get("crd").is_some() && results["systems"].get("prepull").is_some();
    if !both {
        eprintln!("only one system measured: no summary or charts");
        return Ok(());
    }
    let latency_png = format!("{date}-write-latency.png");
    let memory_png = format!("{date}-memory.png");
    charts::write_latency(results, &dir.join(&latency_png))?;
    charts::write_memory(results, &dir.join(&memory_png))?;
    let md_path = dir.join(format!("{date}.md"));
    std::fs::write(
        &md_path,
        markdown::summary(results, &latency_png, &memory_png),
    )?;
    eprintln!(
        "wrote {}, {latency_png} and {memory_png}",
        md_path.display()
    );
    Ok(())
}

/// The systems measured so far, to `partial.json`: a run that dies later (a server out of
/// memory) keeps what it measured.
pub fn write_partial(systems: &serde_json::Map<String, Value>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("partial.json");
    std::fs::write(&path, serde_json::to_string_pretty(systems)? + "\n")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The systems a previous run kept in `partial.json` (none when there is no such file).
pub fn read_partial(dir: &Path) -> Result<serde_json::Map<String, Value>> {
    let path = dir.join("partial.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::Map::new()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Marginal resident memory per 10k objects of one system, KiB: the growth from `objects`
/// to `large_objects` NodeImages, scaled to 10k.
pub fn rss_per_10k_kib(system: &Value, setup: &Value) -> Option<f64> {
    let small = system["memory"]["objects"]["rss_kib"].as_f64()?;
    let large = system["memory"]["large_objects"]["rss_kib"].as_f64()?;
    let delta_objects = setup["large_objects"].as_f64()? - setup["objects"].as_f64()?;
    (delta_objects > 0.0).then(|| (large - small) / delta_objects * 10_000.0)
}
