//! What the fault cases share: the binaries, a temp dir, systems started in it, slow images
//! behind a faulty proxy, and the checks every case ends with (each job complete, each node
//! given one pull order per image).

use std::time::Duration;

use anyhow::{Context, ensure};
use prepull_testbed::kubectl_steps::{apply, counters, job, job_status, tag_owners, tag_status};
use prepull_testbed::system::{Binaries, System};
use prepull_testbed::{FaultyProxy, Kubectl, TestImage, eventually, incompressible_bytes};
use tempfile::TempDir;

/// The binaries and a temp dir for the systems the cases start.
pub struct Bed {
    pub dir: TempDir,
    pub binaries: Binaries,
}

impl Bed {
    pub async fn new() -> anyhow::Result<Bed> {
        Ok(Bed {
            dir: tempfile::Builder::new()
                .prefix("prepull-faults-")
                .tempdir()?,
            binaries: Binaries::beside_current_exe(true).await?,
        })
    }

    /// A registry, a standalone server with `flags` and `nodes` nodes `<name>-0`, `<name>-1`...
    /// in `<dir>/<name>`.
    pub async fn system(
        &self,
        name: &str,
        flags: &[String],
        nodes: usize,
    ) -> anyhow::Result<System> {
        let names: Vec<String> = (0..nodes).map(|i| format!("{name}-{i}")).collect();
        let nodes: Vec<(&str, &[(&str, &str)])> =
            names.iter().map(|n| (n.as_str(), &[][..])).collect();
        System::start(
            &self.dir.path().join(name),
            self.binaries.clone(),
            flags,
            &nodes,
        )
        .await
    }
}

/// A flag list from string slices.
pub fn flags(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A proxy in front of `system`'s registry that every node's containerd trusts.
pub async fn proxy_for(system: &System) -> anyhow::Result<FaultyProxy> {
    let proxy = FaultyProxy::start(&system.registry.host_port()).await?;
    for node in &system.nodes {
        node.containerd
            .trust_insecure_registry(&proxy.host_port())?;
    }
    Ok(proxy)
}

/// Pushes `count` images `<repo>:v<i>` whose layer is `bytes` of incompressible data and
/// returns their references through `proxy`.
pub async fn push_images(
    system: &System,
    proxy: &FaultyProxy,
    repo: &str,
    count: usize,
    bytes: usize,
) -> anyhow::Result<Vec<String>> {
    let mut references = Vec::new();
    for i in 0..count {
        let seed = (i as u64 + 1) * 7919 + repo.len() as u64;
        let image = TestImage::with_payload(&incompressible_bytes(bytes, seed))?;
        let tag = format!("v{i}");
        system.registry.push_image(repo, &tag, &image).await?;
        references.push(format!("{}/{repo}:{tag}", proxy.host_port()));
    }
    Ok(references)
}

/// One ImagePullJob per image, `<label>-<i>`, over every node of `system` with `spec` (YAML
/// lines indented by two spaces), labelled `fault=<label>`; returns the job names.
pub async fn start_jobs(
    system: &System,
    label: &str,
    images: &[String],
    spec: &str,
) -> anyhow::Result<Vec<String>> {
    let nodes: Vec<&str> = system.nodes.iter().map(|n| n.name.as_str()).collect();
    let selector = format!("  selector:\n    names: [{}]\n", nodes.join(", "));
    let mut names = Vec::new();
    let mut manifests = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let name = format!("{label}-{i}");
        let manifest = job(&name, image, &format!("{spec}{selector}")).replace(
            "  namespace: default\n",
            &format!("  namespace: default\n  labels:\n    fault: {label}\n"),
        );
        manifests.push(manifest);
        names.push(name);
    }
    apply(system.kubectl(), &manifests.join("---\n")).await?;
    Ok(names)
}

/// Waits until job `name` has a node active or done: the job is under way.
pub async fn under_way(kubectl: &Kubectl, name: &str) -> anyhow::Result<()> {
    eventually("the job is under way", Duration::from_secs(60), || async {
        let status = job_status(kubectl, name).await?;
        let (_, succeeded, failed, active) = counters(&status);
        ensure!(active + succeeded + failed > 0, "{status}");
        Ok(())
    })
    .await
}

/// Waits (at most `seconds`) until every job labelled `fault=<label>` is complete, reading
/// through `kubectl` (which may fail while the server is down: it is asked again).
pub async fn all_complete(kubectl: &Kubectl, jobs: &[String], seconds: u64) -> anyhow::Result<()> {
    eventually(
        "every job completes",
        Duration::from_secs(seconds),
        || async {
            for name in jobs {
                let status = job_status(kubectl, name).await?;
                ensure!(
                    status["completionTime"].is_string(),
                    "{name} not complete: {status}"
                );
            }
            Ok(())
        },
    )
    .await
}

/// Every job succeeded on every node, and each node holds one pull order per image: the tag
/// owned by its job alone, at spec version 1, Succeeded at version 1. Returns how many pull
/// orders were duplicated (a version above 1), which the callers require to be 0.
pub async fn pulled_once_each(
    system: &System,
    jobs: &[String],
    images: &[String],
) -> anyhow::Result<usize> {
    let kubectl = system.kubectl();
    let nodes = system.nodes.len() as i64;
    let mut duplicates = 0;
    for (name, image) in jobs.iter().zip(images) {
        let status = job_status(kubectl, name).await?;
        ensure!(
            counters(&status) == (nodes, nodes, 0, 0),
            "{name}: {status}"
        );
        for node in &system.nodes {
            let (owners, version) = tag_owners(kubectl, &node.name, image).await?;
            ensure!(owners == [name.clone()], "{}: owners {owners:?}", node.name);
            if version != 1 {
                duplicates += 1;
            }
            let (phase, status_version, message) = tag_status(kubectl, &node.name, image)
                .await?
                .with_context(|| format!("{} has no status for {image}", node.name))?;
            ensure!(
                phase == "Succeeded" && status_version == version,
                "{} {image}: {phase} at {status_version} ({message})",
                node.name
            );
        }
    }
    Ok(duplicates)
}

/// One line of figures for `bench/results/faults-<date>.md`.
pub fn figures(scenario: &str, line: &str) {
    println!("    figures {scenario}: {line}");
}
