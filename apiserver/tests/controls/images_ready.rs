//! The ImagesReady condition in standalone mode, on the real agents and containerd of the
//! shared system: every NodeImage starts True (`NoRequiredImages`); a required job for an image
//! new to node-1 makes it False (`RequiredImagesPulling`, naming the job) until it succeeded
//! there, then True (`RequiredImagesPulled`), and the `type: Never` job's re-pulls (every 2 s
//! here) keep it True; a required job whose image does not exist makes node-2 False
//! (`RequiredImageFailed`, naming the job and the image) until the job is deleted; node-3,
//! targeted by neither, never changes; a node may not write the condition itself.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use prepull_testbed::Kubectl;
use prepull_testbed::kubectl_steps::{apply, get_json, wait_for};
use prepull_testbed::system::System;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ANNOTATION: &str = "prepull.io/required-for-readiness";
/// How long a decision may take.
const DECIDED_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn images_ready_follows_the_required_jobs_of_each_node(
    system: &System,
) -> anyhow::Result<()> {
    let kubectl = system.kubectl();
    for node in ["node-1", "node-2", "node-3"] {
        wait_for(
            kubectl,
            "condition=ImagesReady",
            &format!("nodeimage/{node}"),
            30,
        )
        .await?;
        let (status, reason, _) = images_ready(kubectl, node).await?;
        ensure!(
            (status.as_str(), reason.as_str()) == ("True", "NoRequiredImages"),
            "{node} starts ready with nothing required: {status} {reason}"
        );
    }
    let untouched =
        get_json(kubectl, &["nodeimage", "node-3"]).await?["status"]["conditions"].clone();

    let transitions = watch_condition(kubectl, "node-1")?;
    let image = system.push_image("controls/required", "v1").await?;
    // Paused first: node-1 waits for a job that has not reached it yet.
    apply(kubectl, &required_job("required-new", &image, "node-1", 0)).await?;
    let (status, reason, message) = decided(kubectl, "node-1", "False", None).await?;
    ensure!(
        reason == "RequiredImagesPulling" && message.contains("default/required-new"),
        "node-1 waits for the job, named: {status} {reason}: {message}"
    );
    apply(kubectl, &required_job("required-new", &image, "node-1", 1)).await?;
    let (_, reason, _) = decided(kubectl, "node-1", "True", None).await?;
    ensure!(reason == "RequiredImagesPulled", "node-1 ready: {reason}");
    // Re-pulls (every 2 s) of the image already there: the condition stays True.
    wait_for_version(kubectl, "node-1", &image, 3).await?;
    let seen = transitions.stop().await;
    let pulled = seen
        .iter()
        .position(|line| line == "True RequiredImagesPulled")
        .with_context(|| format!("the watch saw node-1 ready: {seen:#?}"))?;
    ensure!(
        seen[..pulled]
            .iter()
            .any(|line| line == "False RequiredImagesPulling")
            && seen[pulled..].iter().all(|line| line.starts_with("True")),
        "False while pulling, then True from the first success through the re-pulls: {seen:#?}"
    );

    let missing = format!(
        "{}/controls/required:no-such-tag",
        system.registry.host_port()
    );
    apply(
        kubectl,
        &required_job("required-missing", &missing, "node-2", 1),
    )
    .await?;
    let (_, reason, message) =
        decided(kubectl, "node-2", "False", Some("RequiredImageFailed")).await?;
    ensure!(
        reason == "RequiredImageFailed"
            && message.contains("default/required-missing")
            && message.contains(&missing),
        "node-2 failed, naming the job and image: {reason}: {message}"
    );

    // A node may not judge itself.
    let node_2 = Kubectl::new(system.server.node_kubeconfig("node-2").await?);
    let forged = node_2
        .run(&[
            "patch",
            "nodeimage",
            "node-2",
            "--subresource=status",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/status/conditions/0/status","value":"True"}]"#,
        ])
        .await;
    match forged {
        Ok(out) => bail!("node-2 set its own condition: {out}"),
        Err(err) => ensure!(
            format!("{err:#}").contains("may not modify status.conditions"),
            "refused with the reason: {err:#}"
        ),
    }

    kubectl
        .run(&["delete", "imagepulljob", "required-missing", "required-new"])
        .await?;
    let (_, reason, _) = decided(kubectl, "node-2", "True", None).await?;
    ensure!(
        reason == "NoRequiredImages",
        "node-2 ready once the job is gone: {reason}"
    );
    let now = get_json(kubectl, &["nodeimage", "node-3"]).await?["status"]["conditions"].clone();
    ensure!(now == untouched, "node-3 untouched: {untouched} -> {now}");
    Ok(())
}

/// A required `type: Never` ImagePullJob for `image` on `node`, one attempt.
fn required_job(name: &str, image: &str, node: &str, parallelism: u32) -> String {
    format!(
        "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n    {ANNOTATION}: \"true\"\nspec:\n  image: {image}\n  parallelism: {parallelism}\n  selector:\n    names: [{node}]\n  pullPolicy:\n    backoffLimit: 0\n    timeoutSeconds: 30\n  completionPolicy:\n    type: Never\n"
    )
}

/// `node`'s ImagesReady status, reason and message.
async fn images_ready(kubectl: &Kubectl, node: &str) -> anyhow::Result<(String, String, String)> {
    let object = get_json(kubectl, &["nodeimage", node]).await?;
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let condition = conditions
        .iter()
        .find(|c| c["type"] == "ImagesReady")
        .with_context(|| format!("{node} has no ImagesReady condition: {object}"))?;
    let field = |name: &str| condition[name].as_str().unwrap_or_default().to_owned();
    Ok((field("status"), field("reason"), field("message")))
}

/// Waits until `node`'s ImagesReady has `status` (and `reason`, when given).
async fn decided(
    kubectl: &Kubectl,
    node: &str,
    status: &str,
    reason: Option<&str>,
) -> anyhow::Result<(String, String, String)> {
    prepull_testbed::eventually(
        &format!("{node} ImagesReady={status}"),
        DECIDED_TIMEOUT,
        || async {
            let condition = images_ready(kubectl, node).await?;
            ensure!(
                condition.0 == status && reason.is_none_or(|r| condition.1 == r),
                "now {condition:?}"
            );
            Ok(condition)
        },
    )
    .await
}

/// Waits until `image`'s tag on `node` succeeded at spec version `version` or later.
async fn wait_for_version(
    kubectl: &Kubectl,
    node: &str,
    image: &str,
    version: i64,
) -> anyhow::Result<()> {
    let (name, tag) = image.rsplit_once(':').context("a tagged image")?;
    prepull_testbed::eventually("re-pulls of the image", DECIDED_TIMEOUT, || async {
        let object = get_json(kubectl, &["nodeimage", node]).await?;
        let tags = object["status"]["imageStatuses"][name]["tags"].clone();
        let done = tags.as_array().into_iter().flatten().any(|t: &Value| {
            t["tag"] == tag && t["phase"] == "Succeeded" && t["version"].as_i64() >= Some(version)
        });
        ensure!(done, "tags now {tags}");
        Ok(())
    })
    .await
}

/// A `kubectl get --watch` of one NodeImage's ImagesReady, one line per event:
/// `<status> <reason>`.
struct Transitions {
    child: tokio::process::Child,
    lines: tokio::task::JoinHandle<Vec<String>>,
}

fn watch_condition(kubectl: &Kubectl, node: &str) -> anyhow::Result<Transitions> {
    let mut child = kubectl
        .command()
        .args(["get", "nodeimage", node, "--watch", "-o"])
        // ImagesReady is the only condition; kubectl's watch printer applies a filter
        // expression to the first event only.
        .arg(r#"jsonpath={.status.conditions[0].status} {.status.conditions[0].reason}{"\n"}"#)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let lines = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = out.next_line().await {
            if !line.trim().is_empty() {
                lines.push(line);
            }
        }
        lines
    });
    Ok(Transitions { child, lines })
}

impl Transitions {
    async fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill().await;
        self.lines.await.unwrap_or_default()
    }
}
