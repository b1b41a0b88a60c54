//! S5 the aggregation hop: the same requests to Prepull directly and through kube-apiserver
//! (which authenticates, authorizes, and proxies to Prepull over its own HTTP/2 connection).
//! The objects read are ImagePullJobs: in cluster mode NodeImages follow the main cluster's
//! Nodes, and one without a Node is deleted.

use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use serde_json::{Value, json};

use super::{reads, workers};
use crate::objects::{job, jobs_path};
use crate::system::Endpoint;

/// ImagePullJobs the hop scenario reads.
pub const OBJECTS: usize = 1_000;
/// Clients of the concurrent measurements.
const CLIENTS: usize = 16;

/// Fills `direct` with [`OBJECTS`] ImagePullJobs, then measures both paths.
pub async fn run(direct: &Endpoint, through_kube: &Endpoint, phase: Duration) -> Result<Value> {
    reads::create_numbered(direct, &jobs_path(), 0..OBJECTS, |i| {
        Bytes::from(job(&read_name(i), 5, None).to_string())
    })
    .await?;
    let mut out = json!({"objects": OBJECTS, "kind": "ImagePullJob", "clients": CLIENTS});
    let paths = [("direct", direct), ("through_kube", through_kube)];
    for (key, endpoint) in paths {
        eprintln!("  S5 reads, {}", endpoint.name);
        out[key] = json!({
            "get_1_client": gets(endpoint, 1, phase).await?,
            "get_16_clients": gets(endpoint, CLIENTS, phase).await?,
            "list": reads::list_kind(endpoint, &jobs_path(), "ImagePullJob", OBJECTS, 10).await?,
        });
    }
    // Creates last: the lists above count exactly the jobs read.
    for (key, endpoint) in paths {
        eprintln!("  S5 creates, {}", endpoint.name);
        out[key]["create_16_clients"] = creates(endpoint, key, phase).await?;
    }
    Ok(out)
}

async fn gets(endpoint: &Endpoint, clients: usize, phase: Duration) -> Result<Value> {
    let connections = endpoint.connect(clients).await?;
    let (samples, elapsed) = workers(
        &connections,
        clients,
        Instant::now() + phase,
        |connection, _, _| async move {
            let name = read_name(fastrand::usize(..OBJECTS));
            connection
                .ok(
                    "GET",
                    &format!("{}/{name}", jobs_path()),
                    None,
                    Bytes::new(),
                )
                .await?;
            Ok(true)
        },
    )
    .await?;
    Ok(samples.summary(elapsed))
}

/// The name of read job `i`.
fn read_name(i: usize) -> String {
    format!("hop-read-{i:04}")
}

async fn creates(endpoint: &Endpoint, run: &str, phase: Duration) -> Result<Value> {
    let connections = endpoint.connect(CLIENTS).await?;
    let (samples, elapsed) = workers(
        &connections,
        CLIENTS,
        Instant::now() + phase,
        |connection, worker, step| async move {
            let name = format!("hop-{run}-{worker}-{step}").replace('_', "-");
            connection
                .ok(
                    "POST",
                    &jobs_path(),
                    Some("application/json"),
                    Bytes::from(job(&name, 5, None).to_string()),
                )
                .await?;
            Ok(true)
        },
    )
    .await?;
    Ok(samples.summary(elapsed))
}
