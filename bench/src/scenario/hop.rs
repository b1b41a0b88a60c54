//! S5 the aggregation hop: the same requests to Prepull directly and through kube-apiserver
//! (which authenticates, authorizes, and proxies to Prepull over its own HTTP/2 connection).

use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use serde_json::{Value, json};

use super::{reads, workers};
use crate::objects::{job, jobs_path, node_images_path, node_name};
use crate::system::Endpoint;

/// NodeImages the hop scenario reads.
pub const OBJECTS: usize = 1_000;
/// Clients of the concurrent measurements.
const CLIENTS: usize = 16;

/// Fills `direct` with [`OBJECTS`] NodeImages, then measures both paths.
pub async fn run(direct: &Endpoint, through_kube: &Endpoint, phase: Duration) -> Result<Value> {
    reads::fill(direct, 0..OBJECTS, 2_000).await?;
    let mut out = json!({"objects": OBJECTS, "clients": CLIENTS});
    for (key, endpoint) in [("direct", direct), ("through_kube", through_kube)] {
        eprintln!("  S5 {}", endpoint.name);
        out[key] = json!({
            "get_1_client": gets(endpoint, 1, phase).await?,
            "get_16_clients": gets(endpoint, CLIENTS, phase).await?,
            "create_16_clients": creates(endpoint, key, phase).await?,
            "list": reads::list(endpoint, OBJECTS, 10).await?,
        });
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
            let name = node_name(fastrand::usize(..OBJECTS));
            connection
                .ok(
                    "GET",
                    &format!("{}/{name}", node_images_path()),
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
