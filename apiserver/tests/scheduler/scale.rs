//! A rough scale check (ignored by default; run with `--ignored --nocapture`): one job over
//! many registered nodes answered by stand-in agents, reporting the time from create to
//! complete.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::succeed;
use crate::support::{StandInAgents, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run explicitly"]
async fn one_job_over_a_thousand_nodes_with_parallelism_one_hundred_completes() {
    let world = World::start().await;
    let nodes = 1000;
    for i in 0..nodes {
        world.register_node(&format!("node-{i:04}"), &[]).await;
    }
    let _agents = StandInAgents::start(world.registry.clone(), succeed).await;
    let started = Instant::now();
    world
        .create_job("wide", json!({"image": "app:1", "parallelism": 100}))
        .await;
    let job = tokio::time::timeout(Duration::from_secs(300), world.finished_job("wide"))
        .await
        .expect("finishes");
    let status = job.status.unwrap();
    println!("{nodes} nodes, parallelism 100: {:?}", started.elapsed());
    assert_eq!(status.succeeded, nodes);
    world.stop().await;
}
