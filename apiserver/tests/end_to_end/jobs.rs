//! ImagePullJob and ImageListPullJob cases on the shared system (two nodes, `node-a` in zone
//! a and `node-b` in zone b), in the order of the issue's Show list.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use prepull_testbed::{HangingRegistry, assert_eventually, eventually};
use tokio::io::{AsyncBufReadExt, BufReader};

use prepull_testbed::kubectl_steps::{
    apply, counters, get_json, job, job_status, tag_owners, tag_status, wait_for,
};
use prepull_testbed::system::System;

pub async fn a_job_without_selector_completes_on_every_node(system: &System) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    apply(
        kubectl,
        &job("everywhere", &system.demo_image, "  parallelism: 2\n"),
    )
    .await?;
    wait_for(kubectl, "condition=Complete", "imagepulljob/everywhere", 60).await?;
    let status = job_status(kubectl, "everywhere").await?;
    ensure!(counters(&status) == (2, 2, 0, 0), "status {status}");
    ensure!(status["message"] == "job has completed", "status {status}");
    for node in ["node-a", "node-b"] {
        let (phase, _, _) = tag_status(kubectl, node, &system.demo_image)
            .await?
            .context("a status entry")?;
        ensure!(phase == "Succeeded", "{node}: {phase}");
    }
    Ok(())
}

pub async fn names_and_label_selectors_target_exactly_their_nodes(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let by_name = system.push_image("e2e/selected", "by-name").await?;
    let by_label = system.push_image("e2e/selected", "by-label").await?;
    apply(
        kubectl,
        &job(
            "by-name",
            &by_name,
            "  selector:\n    names: [node-a, node-gone]\n",
        ),
    )
    .await?;
    apply(
        kubectl,
        &job(
            "by-label",
            &by_label,
            "  selector:\n    matchLabels:\n      zone: b\n",
        ),
    )
    .await?;
    wait_for(kubectl, "condition=Complete", "imagepulljob/by-name", 60).await?;
    wait_for(kubectl, "condition=Complete", "imagepulljob/by-label", 60).await?;
    ensure!(counters(&job_status(kubectl, "by-name").await?) == (1, 1, 0, 0));
    ensure!(counters(&job_status(kubectl, "by-label").await?) == (1, 1, 0, 0));
    ensure!(tag_owners(kubectl, "node-a", &by_name).await?.0 == ["by-name"]);
    ensure!(tag_owners(kubectl, "node-b", &by_name).await?.0.is_empty());
    ensure!(tag_owners(kubectl, "node-b", &by_label).await?.0 == ["by-label"]);
    ensure!(tag_owners(kubectl, "node-a", &by_label).await?.0.is_empty());
    Ok(())
}

pub async fn with_parallelism_one_a_watch_never_shows_more_than_one_active(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let image = system.push_image("e2e/one-at-a-time", "v1").await?;
    // Paused first, so the watch is open before the first task is handed out.
    apply(kubectl, &job("one-at-a-time", &image, "  parallelism: 0\n")).await?;
    let mut watch = kubectl
        .command()
        .args(["get", "imagepulljob", "one-at-a-time", "--watch", "-o"])
        .arg("jsonpath={.status.active} {.status.succeeded}{\"\\n\"}")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(watch.stdout.take().context("stdout")?).lines();
    // The first line is the current state: the watch is established.
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .context("the watch printed nothing")??
        .unwrap_or_default();
    kubectl
        .run(&[
            "patch",
            "imagepulljob",
            "one-at-a-time",
            "--type=merge",
            "-p",
            r#"{"spec":{"parallelism":1}}"#,
        ])
        .await?;
    let mut seen = vec![first];
    let collected = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            let done = line.trim().ends_with(" 2");
            seen.push(line);
            if done {
                break;
            }
        }
        anyhow::Ok(())
    })
    .await;
    let _ = watch.kill().await;
    collected.with_context(|| format!("the job did not finish; watch lines {seen:?}"))??;
    let actives: Vec<i64> = seen
        .iter()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect();
    ensure!(
        actives.iter().all(|&active| active <= 1),
        "watch lines {seen:?}"
    );
    ensure!(actives.contains(&1), "a task was seen running: {seen:?}");
    Ok(())
}

pub async fn active_deadline_seconds_fails_the_remaining_nodes(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let hanging = HangingRegistry::start().await?;
    for node in &system.nodes {
        node.containerd
            .trust_insecure_registry(&hanging.host_port())?;
    }
    let image = format!("{}/e2e/stuck:v1", hanging.host_port());
    apply(
        kubectl,
        &job(
            "deadline",
            &image,
            // One node at a time: the second is still waiting when the deadline passes.
            "  parallelism: 1\n  pullPolicy:\n    timeoutSeconds: 3\n  completionPolicy:\n    type: Always\n    activeDeadlineSeconds: 4\n",
        ),
    )
    .await?;
    wait_for(kubectl, "condition=Failed", "imagepulljob/deadline", 60).await?;
    let status = job_status(kubectl, "deadline").await?;
    ensure!(
        status["message"] == "job exceeds activeDeadlineSeconds",
        "status {status}"
    );
    let (desired, succeeded, failed, active) = counters(&status);
    ensure!(
        (desired, succeeded, failed, active) == (2, 0, 2, 0),
        "status {status}"
    );
    ensure!(
        hanging.connections_accepted() > 0,
        "the pulls reached the stuck registry"
    );
    Ok(())
}

pub async fn ttl_seconds_after_finished_deletes_the_job(system: &System) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    apply(
        kubectl,
        &job(
            "short-lived",
            &system.demo_image,
            "  completionPolicy:\n    type: Always\n    ttlSecondsAfterFinished: 3\n",
        ),
    )
    .await?;
    wait_for(
        kubectl,
        "condition=Complete",
        "imagepulljob/short-lived",
        60,
    )
    .await?;
    wait_for(kubectl, "delete", "imagepulljob/short-lived", 60).await?;
    let left = kubectl.run(&["get", "imagepulljobs", "-o", "name"]).await?;
    ensure!(!left.contains("short-lived"), "still listed: {left}");
    Ok(())
}

pub async fn the_faq_flow_shows_why_a_missing_image_failed(system: &System) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let image = format!("{}/e2e/missing:v0", system.registry.host_port());
    apply(
        kubectl,
        &job(
            "missing",
            &image,
            "  pullPolicy:\n    backoffLimit: 1\n    timeoutSeconds: 30\n",
        ),
    )
    .await?;
    wait_for(kubectl, "condition=Failed", "imagepulljob/missing", 60).await?;
    let table = kubectl.run(&["get", "imagepulljob", "missing"]).await?;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let failed_column = header
        .iter()
        .position(|c| *c == "FAILED")
        .context("a FAILED column")?;
    ensure!(row.get(failed_column) == Some(&"2"), "table:\n{table}");
    let yaml = kubectl
        .run(&["get", "imagepulljob", "missing", "-o", "yaml"])
        .await?;
    ensure!(yaml.contains("failedNodes:"), "{yaml}");
    ensure!(
        yaml.contains("- node-a") && yaml.contains("- node-b"),
        "{yaml}"
    );
    ensure!(yaml.contains("message: job has completed"), "{yaml}");
    let node = kubectl
        .run(&["get", "nodeimage", "node-a", "-o", "yaml"])
        .await?;
    let (phase, _, message) = tag_status(kubectl, "node-a", &image)
        .await?
        .context("a status entry")?;
    ensure!(phase == "Failed", "{node}");
    ensure!(
        message.contains("not found"),
        "the runtime's cause: {message}"
    );
    ensure!(node.contains("not found"), "{node}");
    Ok(())
}

pub async fn an_image_list_pull_job_with_two_images_completes_two(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let second = system.push_image("e2e/listed", "v1").await?;
    let manifest = format!(
        "apiVersion: apps.kruise.io/v1alpha1\nkind: ImageListPullJob\nmetadata:\n  name: two-images\n  namespace: default\nspec:\n  images:\n  - {}\n  - {second}\n  completionPolicy:\n    type: Always\n",
        system.demo_image
    );
    apply(kubectl, &manifest).await?;
    wait_for(
        kubectl,
        "jsonpath={.status.completed}=2",
        "imagelistpulljob/two-images",
        60,
    )
    .await?;
    let list = get_json(kubectl, &["imagelistpulljob", "two-images"]).await?;
    ensure!(
        list["status"]["desired"] == 2 && list["status"]["succeeded"] == 2,
        "{list}"
    );
    let jobs = get_json(kubectl, &["imagepulljobs"]).await?;
    let children: Vec<&serde_json::Value> = jobs["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter(|job| job["metadata"]["ownerReferences"][0]["name"] == "two-images")
        .collect();
    ensure!(children.len() == 2, "children {children:?}");
    for child in children {
        let name = child["metadata"]["name"].as_str().unwrap_or_default();
        ensure!(name.starts_with("two-images-"), "generateName: {name}");
        ensure!(
            child["metadata"]["labels"]["controller-revision-hash"].is_string(),
            "{child}"
        );
    }
    Ok(())
}

pub async fn twenty_jobs_over_the_same_images_leave_every_task_on_every_node(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let images = [
        system.push_image("e2e/shared", "one").await?,
        system.push_image("e2e/shared", "two").await?,
    ];
    let manifests: Vec<String> = (0..20)
        .map(|n| {
            let image = &images[n % 2];
            format!(
                "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: many-{n}\n  namespace: default\n  labels:\n    e2e: many\nspec:\n  image: {image}\n"
            )
        })
        .collect();
    apply(kubectl, &manifests.join("---\n")).await?;
    wait_for(
        kubectl,
        "condition=Complete",
        "imagepulljob -l e2e=many",
        120,
    )
    .await?;
    for node in ["node-a", "node-b"] {
        for (index, image) in images.iter().enumerate() {
            let mut expected: Vec<String> = (0..20)
                .filter(|n| n % 2 == index)
                .map(|n| format!("many-{n}"))
                .collect();
            expected.sort();
            let (owners, _) = tag_owners(kubectl, node, image).await?;
            ensure!(owners == expected, "{node} {image}: {owners:?}");
        }
    }
    Ok(())
}

pub async fn a_never_job_reaches_a_late_node_and_pulls_again_each_period(
    system: &mut System,
) -> anyhow::Result<()> {
    let image = system.push_image("e2e/always-there", "v1").await?;
    apply(
        system.kubectl(),
        &job(
            "keep-pulled",
            &image,
            "  imagePullPolicy: Always\n  completionPolicy:\n    type: Never\n",
        ),
    )
    .await?;
    system.add_node("node-late", &[("zone", "c")]).await?;
    let kubectl = system.kubectl().clone();
    let first = assert_eventually(
        "the late node pulls the image",
        Duration::from_secs(60),
        || async {
            match tag_status(&kubectl, "node-late", &image).await? {
                Some((phase, version, _)) if phase == "Succeeded" => Ok(version),
                other => bail!("{other:?}"),
            }
        },
    )
    .await;
    // The server runs with a 4 s re-pull period: the version moves on and the node pulls again.
    eventually(
        "the late node pulls the image again",
        Duration::from_secs(60),
        || async {
            match tag_status(&kubectl, "node-late", &image).await? {
                Some((phase, version, _)) if phase == "Succeeded" && version > first => Ok(()),
                other => bail!("{other:?} (first pull at version {first})"),
            }
        },
    )
    .await?;
    let status = job_status(&kubectl, "keep-pulled").await?;
    ensure!(
        status["desired"] == 3,
        "the Never job follows the new node: {status}"
    );
    ensure!(
        status["completionTime"].is_null(),
        "a Never job never completes: {status}"
    );
    Ok(())
}

pub async fn kubectl_wait_for_complete_returns(system: &System) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    let image = system.push_image("e2e/waited", "v1").await?;
    apply(kubectl, &job("waited-for", &image, "")).await?;
    let out = kubectl
        .run(&[
            "wait",
            "--for=condition=Complete",
            "imagepulljob/waited-for",
            "--timeout=60s",
        ])
        .await?;
    ensure!(
        out.contains("imagepulljob.apps.kruise.io/waited-for condition met"),
        "{out}"
    );
    Ok(())
}
