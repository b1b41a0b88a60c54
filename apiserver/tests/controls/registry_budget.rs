//! The registry budget: three jobs of parallelism 10 over six nodes, all on one registry,
//! with `--max-pulls-per-registry 2`. A watch on every NodeImage never sees more than two
//! tasks on that registry without a result; the jobs say in their status that nodes wait for
//! the registry; all three complete on every node.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use prepull_testbed::Kubectl;
use prepull_testbed::kubectl_steps::{apply, counters, job, job_status, wait_for};
use prepull_testbed::system::System;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::watch;

use crate::NODES;

/// The server's `--max-pulls-per-registry`.
pub const BUDGET: usize = 2;
const JOBS: [&str; 3] = ["budget-a", "budget-b", "budget-c"];
/// How long the three jobs may take together.
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn three_jobs_on_one_registry_never_pull_more_than_the_budget_at_once(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let host = system.registry.host_port();
    let mut images = Vec::new();
    for name in JOBS {
        let image = system.push_image(&format!("controls/{name}"), "v1").await?;
        // Paused, so both watches are open before the first task is handed out.
        apply(kubectl, &job(name, &image, "  parallelism: 0\n")).await?;
        images.push(image);
    }

    let (nodes_watch, mut seen) = watch_node_images(kubectl, &host).await?;

    // The jobs' status messages, as a watch delivers them.
    let mut jobs_watch = kubectl
        .command()
        .args(["get", "imagepulljobs", "--watch", "-o"])
        .arg("jsonpath={.metadata.name}: {.status.message}{\"\\n\"}")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut job_lines = BufReader::new(jobs_watch.stdout.take().context("stdout")?).lines();
    for _ in JOBS {
        tokio::time::timeout(Duration::from_secs(20), job_lines.next_line())
            .await
            .context("the job watch printed the paused jobs")??;
    }
    let messages = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = job_lines.next_line().await {
            lines.push(line);
        }
        lines
    });

    for name in JOBS {
        kubectl
            .run(&[
                "patch",
                "imagepulljob",
                name,
                "--type=merge",
                "-p",
                r#"{"spec":{"parallelism":10}}"#,
            ])
            .await?;
    }
    for name in JOBS {
        let seconds = u32::try_from(FINISH_TIMEOUT.as_secs()).unwrap_or(u32::MAX);
        wait_for(
            kubectl,
            "condition=Complete",
            &format!("imagepulljob/{name}"),
            seconds,
        )
        .await?;
        let status = job_status(kubectl, name).await?;
        ensure!(
            counters(&status) == (6, 6, 0, 0),
            "job {name} succeeded on every node: {status}"
        );
    }
    let everything = NODES.len() * JOBS.len();
    let finished = tokio::time::timeout(
        Duration::from_secs(20),
        seen.wait_for(|seen| seen.finished == everything),
    )
    .await
    .is_ok_and(|waited| waited.is_ok());
    let last = seen.borrow().clone();
    drop(nodes_watch);
    drop(jobs_watch);
    ensure!(finished, "the watch saw every task finish: {last:?}");
    ensure!(
        last.most_active <= BUDGET,
        "at most {BUDGET} pulls on {host} at once; the watch saw {last:?}"
    );
    ensure!(last.most_active == BUDGET, "the budget was used: {last:?}");
    let lines = messages.await?;
    let waiting = format!("waiting for registry {host} (at most {BUDGET} pulls at a time)");
    if !lines.iter().any(|line| line.contains(&waiting)) {
        bail!("no job status said its nodes wait for the registry: {lines:#?}");
    }
    Ok(())
}

/// A watch on every NodeImage (`kubectl get nodeimages --watch -o json`), folded into what it
/// has shown of the tasks on registry `host`; returns once every node was delivered. Dropping
/// the handle ends the watch.
async fn watch_node_images(
    kubectl: &Kubectl,
    host: &str,
) -> anyhow::Result<(NodeWatch, watch::Receiver<Seen>)> {
    let mut child = kubectl
        .command()
        .args(["get", "nodeimages", "--watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let (seen_tx, mut seen) = watch::channel(Seen::default());
    let host = host.to_owned();
    let reader = tokio::spawn(async move {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        let mut nodes: BTreeMap<String, Value> = BTreeMap::new();
        loop {
            let read = stdout.read(&mut chunk).await?;
            if read == 0 {
                return anyhow::Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
            for object in complete_values(&mut buffer)? {
                let name = object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                nodes.insert(name, object);
                let now = tasks_on(&nodes, &host);
                seen_tx.send_modify(|seen| {
                    seen.nodes = nodes.len();
                    seen.most_active = seen.most_active.max(now.active);
                    seen.finished = now.finished;
                    seen.repulled_finished = now.repulled_finished;
                });
            }
        }
    });
    seen.wait_for(|seen| seen.nodes == NODES.len())
        .await
        .context("the NodeImage watch delivers every node")?;
    Ok((
        NodeWatch {
            _child: child,
            reader,
        },
        seen,
    ))
}

/// The running NodeImage watch.
struct NodeWatch {
    _child: tokio::process::Child,
    reader: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for NodeWatch {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A `type: Never` job pulls again on every node each re-pull period (the suite's server:
/// `--scheduler-repull-period-seconds 2`); those re-pulls come due together and are held to the
/// budget too: a watch sees every node pull again, never more than the budget at once.
pub async fn a_never_jobs_repulls_are_held_to_the_budget(system: &System) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let host = system.registry.host_port();
    let image = system.push_image("controls/budget-never", "v1").await?;
    let (nodes_watch, mut seen) = watch_node_images(kubectl, &host).await?;
    apply(
        kubectl,
        &job(
            "budget-never",
            &image,
            "  parallelism: 10\n  completionPolicy:\n    type: Never\n",
        ),
    )
    .await?;
    let repulled = tokio::time::timeout(
        FINISH_TIMEOUT,
        seen.wait_for(|seen| seen.repulled_finished >= NODES.len()),
    )
    .await
    .is_ok_and(|waited| waited.is_ok());
    let last = seen.borrow().clone();
    drop(nodes_watch);
    kubectl
        .run(&["delete", "imagepulljob", "budget-never", "--wait=true"])
        .await?;
    ensure!(repulled, "every node pulled again: {last:?}");
    ensure!(
        last.most_active <= BUDGET,
        "at most {BUDGET} pulls on {host} at once, re-pulls included; the watch saw {last:?}"
    );
    Ok(())
}

/// What the NodeImage watch has shown so far.
#[derive(Clone, Debug, Default)]
struct Seen {
    nodes: usize,
    /// The most tasks on the registry without a result, at any one moment.
    most_active: usize,
    /// Tasks on the registry with a result, now.
    finished: usize,
    /// Of those, tasks pulled again (spec version 2 or more).
    repulled_finished: usize,
}

/// Tasks on `host` over `nodes`: without a result at their version, and with one.
struct Tasks {
    active: usize,
    finished: usize,
    repulled_finished: usize,
}

fn tasks_on(nodes: &BTreeMap<String, Value>, host: &str) -> Tasks {
    let mut tasks = Tasks {
        active: 0,
        finished: 0,
        repulled_finished: 0,
    };
    for node in nodes.values() {
        let Some(images) = node["spec"]["images"].as_object() else {
            continue;
        };
        for (image, spec) in images {
            if !image.starts_with(&format!("{host}/")) {
                continue;
            }
            for tag in spec["tags"].as_array().into_iter().flatten() {
                let done = node["status"]["imageStatuses"][image]["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|status| {
                        status["tag"] == tag["tag"]
                            && status["version"] == tag["version"]
                            && (status["phase"] == "Succeeded" || status["phase"] == "Failed")
                    });
                if done {
                    tasks.finished += 1;
                    if tag["version"].as_i64().is_some_and(|version| version >= 2) {
                        tasks.repulled_finished += 1;
                    }
                } else {
                    tasks.active += 1;
                }
            }
        }
    }
    tasks
}

/// Takes every complete JSON value off the front of `buffer` (kubectl prints one object per
/// watch event, back to back), leaving a partial one for the next read.
fn complete_values(buffer: &mut Vec<u8>) -> anyhow::Result<Vec<Value>> {
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(buffer).into_iter::<Value>();
    let consumed = loop {
        match stream.next() {
            Some(Ok(value)) => values.push(value),
            Some(Err(err)) if err.is_eof() => break stream.byte_offset(),
            Some(Err(err)) => return Err(err).context("kubectl's watch output"),
            None => break stream.byte_offset(),
        }
    };
    buffer.drain(..consumed);
    Ok(values)
}
