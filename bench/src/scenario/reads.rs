//! S2 reads: whole lists of N NodeImages of a given size; and filling and emptying the
//! NodeImage collection the other scenarios use.

use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bytes::Bytes;
use serde_json::{Value, json};

use super::workers;
use crate::objects::{node_image, node_images_path};
use crate::process::CpuMeter;
use crate::stats::{Samples, round3};
use crate::system::Endpoint;

/// Connections and requests in flight while filling.
const FILL_CLIENTS: usize = 32;
/// Fill has no time limit of its own beyond this.
const FILL_LIMIT: Duration = Duration::from_secs(3600);

/// Creates NodeImages numbered `range` (names from [`node_image`]) of about `size` bytes each.
pub async fn fill(endpoint: &Endpoint, range: Range<usize>, size: usize) -> Result<Duration> {
    create_numbered(endpoint, &node_images_path(), range, |i| {
        node_image(i, size)
    })
    .await
}

/// POSTs `body(i)` to `path` for every `i` in `range`, [`FILL_CLIENTS`] at a time; how long
/// it took.
pub async fn create_numbered<F>(
    endpoint: &Endpoint,
    path: &str,
    range: Range<usize>,
    body: F,
) -> Result<Duration>
where
    F: Fn(usize) -> Bytes + Sync,
{
    let (start, n) = (range.start, range.len());
    let body = &body;
    let connections = endpoint.connect(FILL_CLIENTS.min(8)).await?;
    let (samples, elapsed) = workers(
        &connections,
        FILL_CLIENTS,
        Instant::now() + FILL_LIMIT,
        |connection, worker, step| async move {
            let i = step * FILL_CLIENTS + worker;
            if i >= n {
                return Ok(false);
            }
            connection
                .ok("POST", path, Some("application/json"), body(start + i))
                .await?;
            Ok(true)
        },
    )
    .await?;
    ensure!(samples.len() == n, "created {} of {n}", samples.len());
    Ok(elapsed)
}

/// Deletes every NodeImage and waits until none is listed.
pub async fn delete_all(endpoint: &Endpoint) -> Result<()> {
    delete_collection(endpoint, &node_images_path()).await
}

/// Deletes every object under `path` with deletecollection, asked again (on a fresh
/// connection) while objects remain: a server may end one big deletecollection at its request
/// timeout, or close a connection that sat idle, before all are gone.
pub async fn delete_collection(endpoint: &Endpoint, path: &str) -> Result<()> {
    for _ in 0..60 {
        let connection = &endpoint.connect(1).await?[0];
        // Errors (a timeout, a closed stream) are answered by asking again below.
        let _ = connection.call("DELETE", path, None, Bytes::new()).await;
        for _ in 0..20 {
            let page: Value = serde_json::from_slice(
                &connection
                    .ok("GET", &format!("{path}?limit=1"), None, Bytes::new())
                    .await?,
            )?;
            if page["items"].as_array().is_some_and(Vec::is_empty) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    anyhow::bail!("{path} still listed objects after 60 rounds of deletecollection")
}

/// Lists every NodeImage `repetitions` times (one whole list at a time, as an informer's
/// relist does), checking that all `n` come back.
pub async fn list(endpoint: &Endpoint, n: usize, repetitions: usize) -> Result<Value> {
    list_kind(endpoint, &node_images_path(), "NodeImage", n, repetitions).await
}

/// Lists the collection at `path` (of objects of `kind`) `repetitions` times, checking that
/// all `n` come back.
pub async fn list_kind(
    endpoint: &Endpoint,
    path: &str,
    kind: &str,
    n: usize,
    repetitions: usize,
) -> Result<Value> {
    let connection = &endpoint.connect(1).await?[0];
    let marker = format!("\"kind\":\"{kind}\"");
    let mut samples = Samples::default();
    let mut bytes = 0usize;
    let meter = CpuMeter::start(endpoint.pid)?;
    let started = Instant::now();
    for _ in 0..repetitions {
        let t = Instant::now();
        let body = connection.ok("GET", path, None, Bytes::new()).await?;
        samples.push(t.elapsed());
        let items = count(&body, marker.as_bytes());
        ensure!(items == n, "the list had {items} {kind}s, not {n}");
        bytes = body.len();
    }
    let elapsed = started.elapsed();
    let cpu = meter.stop()?;
    let mut summary = samples.summary(elapsed);
    let p50 = samples.quantile(0.5).as_secs_f64();
    summary["response_bytes"] = bytes.into();
    summary["mb_per_s_at_p50"] = round3(bytes as f64 / 1e6 / p50.max(1e-9)).into();
    summary["server_cpu_s"] = round3(cpu.server.as_secs_f64()).into();
    Ok(summary)
}

/// Non-overlapping occurrences of `needle` in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The figures of one size: fill time and the list summary.
pub fn size_result(size: usize, fill_time: Duration, list: Value) -> Value {
    json!({"object_bytes": size, "fill_s": round3(fill_time.as_secs_f64()), "list": list})
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn occurrences_are_counted_once_each() {
        assert_eq!(count(b"abcabcab", b"abc"), 2);
        assert_eq!(count(b"aaaa", b"aa"), 2);
        assert_eq!(count(b"", b"a"), 0);
    }
}
