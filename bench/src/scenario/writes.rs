//! S1 writes: create, PUT update with resourceVersion, and status merge patch of
//! ImagePullJobs, at 1, 16 and 64 concurrent clients (one connection each).

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use serde_json::{Value, json};

use super::workers;
use crate::objects::{job, job_name, job_status_patch, jobs_path};
use crate::process::CpuMeter;
use crate::system::Endpoint;

/// Concurrent clients of each measurement.
pub const CLIENTS: [usize; 3] = [1, 16, 64];

/// The three operations at each client count: `{"create": {"1": summary, ...}, ...}`.
pub async fn run(endpoint: &Endpoint, phase: Duration) -> Result<Value> {
    let mut results = json!({"create": {}, "update": {}, "status_patch": {}});
    // The first write of a kind is slow on both (kube-apiserver's CRD handler warms up):
    // not part of any measurement.
    let warm_up = &endpoint.connect(1).await?[0];
    warm_up
        .ok(
            "POST",
            &jobs_path(),
            Some("application/json"),
            Bytes::from(job("warm-up", 1, None).to_string()),
        )
        .await?;
    for clients in CLIENTS {
        eprintln!("  S1 writes, {clients} clients");
        let connections = endpoint.connect(clients).await?;
        let run = format!("c{clients}");
        // What each worker created: (name, resourceVersion), updated as it writes.
        let created: Vec<Mutex<Vec<(String, String)>>> =
            (0..clients).map(|_| Mutex::new(Vec::new())).collect();

        let meter = CpuMeter::start(endpoint.pid)?;
        let (samples, elapsed) = workers(
            &connections,
            clients,
            Instant::now() + phase,
            |connection, worker, step| {
                let name = job_name(&run, worker * 1_000_000 + step);
                let created = &created[worker];
                async move {
                    let body = connection
                        .ok(
                            "POST",
                            &jobs_path(),
                            Some("application/json"),
                            Bytes::from(job(&name, 5, None).to_string()),
                        )
                        .await?;
                    let rv = resource_version(&body)?;
                    created.lock().push((name, rv));
                    Ok(true)
                }
            },
        )
        .await?;
        results["create"][clients.to_string()] = summary(&samples, elapsed, meter)?;

        let meter = CpuMeter::start(endpoint.pid)?;
        let (samples, elapsed) = workers(
            &connections,
            clients,
            Instant::now() + phase,
            |connection, worker, step| {
                let created = &created[worker];
                async move {
                    let Some((name, rv)) = created.lock().get(step).cloned() else {
                        return Ok(false);
                    };
                    let body = connection
                        .ok(
                            "PUT",
                            &format!("{}/{name}", jobs_path()),
                            Some("application/json"),
                            Bytes::from(job(&name, 6, Some(&rv)).to_string()),
                        )
                        .await?;
                    created.lock()[step].1 = resource_version(&body)?;
                    Ok(true)
                }
            },
        )
        .await?;
        results["update"][clients.to_string()] = summary(&samples, elapsed, meter)?;

        let meter = CpuMeter::start(endpoint.pid)?;
        let (samples, elapsed) = workers(
            &connections,
            clients,
            Instant::now() + phase,
            |connection, worker, step| {
                let created = &created[worker];
                async move {
                    let Some((name, _)) = created.lock().get(step).cloned() else {
                        return Ok(false);
                    };
                    connection
                        .ok(
                            "PATCH",
                            &format!("{}/{name}/status", jobs_path()),
                            Some("application/merge-patch+json"),
                            job_status_patch(step as i32 % 100),
                        )
                        .await?;
                    Ok(true)
                }
            },
        )
        .await?;
        results["status_patch"][clients.to_string()] = summary(&samples, elapsed, meter)?;
    }
    // The other scenarios measure NodeImages alone.
    super::reads::delete_collection(endpoint, &jobs_path()).await?;
    Ok(results)
}

fn resource_version(body: &[u8]) -> Result<String> {
    let object: Value = serde_json::from_slice(body)?;
    object["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string)
        .context("a resourceVersion in the response")
}

fn summary(samples: &crate::stats::Samples, elapsed: Duration, meter: CpuMeter) -> Result<Value> {
    let cpu = meter.stop()?;
    let mut summary = samples.summary(elapsed);
    summary["server_cpu_s"] = crate::stats::round3(cpu.server.as_secs_f64()).into();
    summary["generator_cpu_s"] = crate::stats::round3(cpu.generator.as_secs_f64()).into();
    Ok(summary)
}
