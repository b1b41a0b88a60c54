//! Pinned while wanted, against real containerd (seen with `ctr`, containerd's own client),
//! a real registry and the real API server: a pulled image carries
//! `io.cri-containerd.pinned=pinned` while its tag is in the NodeImage spec and not after, is
//! never deleted, and a restarted agent releases pins it no longer wants and restores lost ones.

mod support;

use std::time::Duration;

use anyhow::{Context, bail};
use prepull_api::node_image::ImagePullPhase;
use prepull_testbed::{Containerd, Registry, RegistryOptions, assert_eventually};
use serde_json::json;
use support::{Agent, Server, wait_for_phase, wait_registered};

const PULL_TIMEOUT: Duration = Duration::from_secs(60);
const PIN_TIMEOUT: Duration = Duration::from_secs(20);
const PINNED: &str = "io.cri-containerd.pinned=pinned";

/// The labels `ctr -n k8s.io images ls` shows for the record `name`, or `None` when containerd
/// has no such record.
async fn ctr_labels(containerd: &Containerd, name: &str) -> anyhow::Result<Option<String>> {
    let output = tokio::process::Command::new("ctr")
        .arg("--address")
        .arg(containerd.socket_path())
        .args(["--namespace", "k8s.io", "images", "ls"])
        .output()
        .await
        .context("running ctr (Debian package containerd)")?;
    anyhow::ensure!(
        output.status.success(),
        "ctr images ls: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout)?;
    // REF TYPE DIGEST SIZE PLATFORMS LABELS; labels are comma separated, `-` for none.
    Ok(text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.first() == Some(&name)).then(|| fields.last().unwrap_or(&"-").to_string())
    }))
}

async fn wait_pinned(containerd: &Containerd, name: &str, pinned: bool) -> String {
    let what = if pinned { "pinned" } else { "not pinned" };
    assert_eventually(&format!("{name} is {what}"), PIN_TIMEOUT, || async {
        match ctr_labels(containerd, name).await? {
            Some(labels) if labels.split(',').any(|l| l == PINNED) == pinned => Ok(labels),
            Some(labels) => bail!("labels are {labels}"),
            None => bail!("containerd has no image {name}"),
        }
    })
    .await
}

/// A node with containerd and an agent, and `team/app` tags `v1`, `v2` in the registry.
struct Bed {
    server: Server,
    _registry: Registry,
    containerd: Containerd,
    kubeconfig: std::path::PathBuf,
    image: String,
}

impl Bed {
    async fn start() -> Bed {
        let server = Server::start().await;
        let registry = Registry::start(RegistryOptions::default())
            .await
            .expect("registry");
        for tag in ["v1", "v2"] {
            registry
                .push_test_image("team/app", tag)
                .await
                .expect("push");
        }
        let containerd = Containerd::start(&[registry.host_port()])
            .await
            .expect("containerd");
        let kubeconfig = server.node_kubeconfig("n1");
        let image = format!("{}/team/app", registry.host_port());
        Bed {
            server,
            _registry: registry,
            containerd,
            kubeconfig,
            image,
        }
    }

    async fn agent(&self, extra: &[&str]) -> Agent {
        let mut args = vec![
            "--kubeconfig",
            self.kubeconfig.to_str().unwrap(),
            "--node-name",
            "n1",
            "--cri-endpoint",
        ];
        let endpoint = self.containerd.endpoint();
        args.push(&endpoint);
        args.extend_from_slice(extra);
        Agent::start(&args).await
    }

    /// Sets the spec's tags of the image to `tags` (none: the image leaves the spec).
    async fn set_tags(&self, tags: &[&str]) {
        let value = if tags.is_empty() {
            serde_json::Value::Null
        } else {
            let tags: Vec<_> = tags
                .iter()
                .map(|tag| {
                    json!({"tag": tag, "createdAt": "2026-01-01T00:00:00Z",
                           "pullPolicy": {"ttlSecondsAfterFinished": 300}})
                })
                .collect();
            json!({"tags": tags})
        };
        let patch = json!({"spec": {"images": {&self.image: value}}});
        self.server
            .kubectl
            .run(&[
                "patch",
                "nodeimage",
                "n1",
                "--type=merge",
                "-p",
                &patch.to_string(),
            ])
            .await
            .unwrap_or_else(|err| panic!("{err:#}"));
    }

    fn record(&self, tag: &str) -> String {
        format!("{}:{tag}", self.image)
    }

    async fn wait_succeeded(&self, tag: &str) {
        let admin = self.server.admin().await;
        wait_for_phase(
            &admin,
            "n1",
            &self.image,
            tag,
            ImagePullPhase::Succeeded,
            PULL_TIMEOUT,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_image_is_pinned_while_its_tag_is_in_the_spec_and_unpinned_but_kept_after() {
    let bed = Bed::start().await;
    let _agent = bed.agent(&[]).await;
    wait_registered(&bed.server.admin().await, "n1").await;
    bed.set_tags(&["v1"]).await;
    bed.wait_succeeded("v1").await;
    let labels = wait_pinned(&bed.containerd, &bed.record("v1"), true).await;
    assert!(
        labels.contains("prepull.io/pinned-by=prepull-nodeagent"),
        "{labels}"
    );

    bed.set_tags(&[]).await;
    let labels = wait_pinned(&bed.containerd, &bed.record("v1"), false).await;
    assert!(!labels.contains("prepull.io/pinned-by"), "{labels}");
    // Unpinned, never deleted: the record is still there.
    assert!(
        ctr_labels(&bed.containerd, &bed.record("v1"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_releases_pins_no_longer_wanted_restores_lost_ones_and_the_flag_releases_all()
 {
    let bed = Bed::start().await;
    let agent = bed.agent(&[]).await;
    wait_registered(&bed.server.admin().await, "n1").await;
    bed.set_tags(&["v1", "v2"]).await;
    bed.wait_succeeded("v1").await;
    bed.wait_succeeded("v2").await;
    wait_pinned(&bed.containerd, &bed.record("v1"), true).await;
    wait_pinned(&bed.containerd, &bed.record("v2"), true).await;
    agent.stop().await;

    // While the agent is down: v2 leaves the spec, and v1's pin is lost (as if the agent had
    // died between the pull and the pin).
    bed.set_tags(&["v1"]).await;
    let unlabel = tokio::process::Command::new("ctr")
        .arg("--address")
        .arg(bed.containerd.socket_path())
        .args([
            "--namespace",
            "k8s.io",
            "images",
            "label",
            &bed.record("v1"),
        ])
        .arg("io.cri-containerd.pinned=")
        .status()
        .await
        .expect("ctr images label");
    assert!(unlabel.success());
    wait_pinned(&bed.containerd, &bed.record("v1"), false).await;

    let agent = bed.agent(&[]).await;
    wait_pinned(&bed.containerd, &bed.record("v2"), false).await;
    wait_pinned(&bed.containerd, &bed.record("v1"), true).await;
    agent.stop().await;

    // Turned off: the agent releases what it pinned, though v1 is still in the spec.
    let _agent = bed.agent(&["--pin-images=false"]).await;
    wait_pinned(&bed.containerd, &bed.record("v1"), false).await;
}

/// What kubelet's image GC does to images no container uses, through the CRI: every image
/// ListImages does not report as pinned is removed. Returns the ids removed.
async fn kubelet_style_prune(containerd: &Containerd) -> Vec<String> {
    use prepull_cri::runtime::v1::{ImageSpec, ListImagesRequest, RemoveImageRequest};
    let mut images = containerd.image_client().await.expect("image client");
    let listed = images
        .list_images(ListImagesRequest::default())
        .await
        .expect("ListImages")
        .into_inner()
        .images;
    let mut removed = Vec::new();
    for image in listed.into_iter().filter(|image| !image.pinned) {
        images
            .remove_image(RemoveImageRequest {
                image: Some(ImageSpec {
                    image: image.id.clone(),
                    ..ImageSpec::default()
                }),
            })
            .await
            .expect("RemoveImage");
        removed.push(image.id);
    }
    removed
}

/// The CRI's view of the image `reference`: (present, pinned).
async fn cri_pinned(containerd: &Containerd, reference: &str) -> (bool, bool) {
    use prepull_cri::runtime::v1::{ImageSpec, ImageStatusRequest};
    let mut images = containerd.image_client().await.expect("image client");
    let image = images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: reference.to_owned(),
                ..ImageSpec::default()
            }),
            verbose: false,
        })
        .await
        .expect("ImageStatus")
        .into_inner()
        .image;
    (image.is_some(), image.is_some_and(|image| image.pinned))
}

/// containerd 1.7 (`tests/containerd/build.sh`): Debian's 1.6 does not report the pinned label
/// to the CRI (seen here: ListImages says `pinned: false` for a labelled image, and the prune
/// removes it).
fn containerd_1_7() -> std::path::PathBuf {
    let path = std::env::var_os("PREPULL_CONTAINERD_1_7_BINARY").expect(
        "PREPULL_CONTAINERD_1_7_BINARY is not set: run \
         `export PREPULL_CONTAINERD_1_7_BINARY=$(tests/containerd/build.sh)` (tests/run.sh does)",
    );
    std::path::PathBuf::from(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_style_image_gc_through_the_cri_keeps_a_pinned_image_and_removes_an_unpinned_one() {
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    for tag in ["v1", "v2"] {
        registry
            .push_test_image("team/app", tag)
            .await
            .expect("push");
    }
    let containerd = Containerd::start_binary(&containerd_1_7(), &[registry.host_port()], None)
        .await
        .expect("containerd 1.7");
    let bed = Bed {
        kubeconfig: server.node_kubeconfig("n1"),
        image: format!("{}/team/app", registry.host_port()),
        server,
        _registry: registry,
        containerd,
    };
    let _agent = bed.agent(&[]).await;
    wait_registered(&bed.server.admin().await, "n1").await;
    bed.set_tags(&["v1", "v2"]).await;
    bed.wait_succeeded("v1").await;
    bed.wait_succeeded("v2").await;
    bed.set_tags(&["v1"]).await;
    wait_pinned(&bed.containerd, &bed.record("v1"), true).await;
    wait_pinned(&bed.containerd, &bed.record("v2"), false).await;
    assert_eq!(
        cri_pinned(&bed.containerd, &bed.record("v1")).await,
        (true, true)
    );
    assert_eq!(
        cri_pinned(&bed.containerd, &bed.record("v2")).await,
        (true, false)
    );

    let removed = kubelet_style_prune(&bed.containerd).await;
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(
        cri_pinned(&bed.containerd, &bed.record("v1")).await,
        (true, true)
    );
    assert_eq!(
        cri_pinned(&bed.containerd, &bed.record("v2")).await,
        (false, false)
    );
}
