//! Scale: one job over a few hundred registered nodes answered by stand-in agents completes
//! on every node. Timing at larger scale belongs to the
//! scheduler benchmark, not here.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::succeed;
use crate::support::{StandInAgents, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_over_three_hundred_nodes_with_parallelism_fifty_completes() {
    let world = World::start().await;
    let nodes = 300;
    for i in 0..nodes {
        world.register_node(&format!("node-{i:04}"), &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    let started = Instant::now();
    world
        .create_job("wide", json!({"image": "app:1", "parallelism": 50}))
        .await;
    let job = tokio::time::timeout(Duration::from_secs(300), world.finished_job("wide"))
        .await
        .expect("finishes");
    let status = job.status.unwrap();
    println!("{nodes} nodes, parallelism 50: {:?}", started.elapsed());
    assert_eq!(status.succeeded, nodes);
    world.stop().await;
}
