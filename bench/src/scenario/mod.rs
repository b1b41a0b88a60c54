//! The scenarios, each a function from a running system to its figures (JSON). Every
//! scenario runs the same requests against both systems.

pub mod hop;
pub mod memory;
pub mod reads;
pub mod watch;
pub mod writes;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::h2::Connection;
use crate::stats::Samples;

/// Runs `concurrency` workers, worker `w` on connection `w % connections.len()`, each calling
/// `op(connection, worker, step)` for steps 0, 1, ... until `op` returns `Ok(false)` or
/// `deadline` passes. Returns the latencies of the calls that did something and how long
/// the whole took.
pub async fn workers<F, Fut>(
    connections: &[Connection],
    concurrency: usize,
    deadline: Instant,
    op: F,
) -> Result<(Samples, Duration)>
where
    F: Fn(Connection, usize, usize) -> Fut + Sync,
    Fut: Future<Output = Result<bool>>,
{
    let started = Instant::now();
    let op = &op;
    let per_worker = futures::future::try_join_all((0..concurrency).map(|worker| {
        let connection = connections[worker % connections.len()].clone();
        async move {
            let mut samples = Vec::new();
            let mut step = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !op(connection.clone(), worker, step).await? {
                    break;
                }
                samples.push(t.elapsed());
                step += 1;
            }
            anyhow::Ok(samples)
        }
    }))
    .await?;
    let elapsed = started.elapsed();
    let mut samples = Samples::default();
    per_worker
        .into_iter()
        .flatten()
        .for_each(|s| samples.push(s));
    Ok((samples, elapsed))
}
