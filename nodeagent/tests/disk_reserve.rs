//! Disk safety against real containerd whose root is on a small tmpfs, a real registry and the
//! real API server: a pull whose downloads would take the image filesystem below the 15%
//! reserve is cancelled with a message that says so and the filesystem stays above the
//! reserve; with the filesystem already below it, a pull is not started at all. Neither is
//! retried, and both are counted in `/metrics`.

mod support;

use std::time::Duration;

use prepull_api::node_image::ImagePullPhase;
use prepull_cri::runtime::v1::{ImageSpec, ImageStatusRequest};
use prepull_testbed::{
    Containerd, Registry, RegistryOptions, TestImage, ThrottledProxy, Tmpfs, assert_eventually,
    free_loopback_port, http_get, incompressible_bytes,
};
use serde_json::json;
use support::{Agent, Server, wait_for_phase, wait_registered};

const MIB: u64 = 1024 * 1024;
const FILESYSTEM_BYTES: u64 = 48 * MIB;
const PULL_TIMEOUT: Duration = Duration::from_secs(60);

/// Leaves about `free` bytes free on `tmpfs`, by filling it and then shortening the filler.
fn leave_free(tmpfs: &Tmpfs, free: u64) {
    let (path, written) = tmpfs.fill("filler").expect("fill");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("the filler");
    file.set_len(written.saturating_sub(free))
        .expect("shorten the filler");
}

fn free_percent(tmpfs: &Tmpfs) -> u64 {
    let stats = rustix::fs::statvfs(tmpfs.path()).expect("statvfs");
    stats.f_bavail * 100 / stats.f_blocks
}

async fn image_present(containerd: &Containerd, reference: &str) -> bool {
    let mut images = containerd.image_client().await.expect("image client");
    let request = ImageStatusRequest {
        image: Some(ImageSpec {
            image: reference.to_owned(),
            ..ImageSpec::default()
        }),
        verbose: false,
    };
    let status = images.image_status(request).await.expect("ImageStatus");
    status.into_inner().image.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_that_would_fill_the_image_filesystem_are_cancelled_or_not_started_and_not_retried() {
    let tmpfs = Tmpfs::mount(FILESYSTEM_BYTES).expect("tmpfs (tests run as root)");
    let server = Server::start().await;
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let big = TestImage::with_payload(&incompressible_bytes(6 * MIB as usize, 1)).expect("image");
    registry
        .push_image("team/big", "v1", &big)
        .await
        .expect("push");
    let small = registry
        .push_test_image("team/small", "v1")
        .await
        .expect("push");
    // A 2 MiB/s link: the agent sees the download start well before it is done.
    let link = ThrottledProxy::start(&registry.host_port(), 2 * MIB as usize)
        .await
        .expect("proxy");
    let containerd =
        Containerd::start_with_root(&[link.host_port()], Some(tmpfs.path().join("containerd")))
            .await
            .expect("containerd");
    let kubeconfig = server.node_kubeconfig("n1");
    let metrics_port = free_loopback_port().expect("a free port");
    let _agent = Agent::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        "n1",
        "--cri-endpoint",
        &containerd.endpoint(),
        "--disk-reserve-percent",
        "15",
        "--health-port",
        &metrics_port.to_string(),
    ])
    .await;
    let admin = server.admin().await;
    wait_registered(&admin, "n1").await;

    // 12 MiB free of 48 (25%); the reserve is 7.2 MiB, the 6 MiB layer would cross it.
    leave_free(&tmpfs, 12 * MIB);
    let big_image = format!("{}/team/big", link.host_port());
    server.add_tag("n1", &big_image, "v1", json!({})).await;
    let failed = wait_for_phase(
        &admin,
        "n1",
        &big_image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(
        failed.message.starts_with("image filesystem /")
            && failed.message.contains("would go below the 15% reserve")
            && !failed.message.contains("attempts"),
        "{failed:?}"
    );
    assert!(free_percent(&tmpfs) >= 15, "{}% free", free_percent(&tmpfs));
    assert!(!image_present(&containerd, &format!("{big_image}:v1")).await);

    // 5 MiB free (about 10%): below the reserve before anything starts.
    std::fs::remove_file(tmpfs.path().join("filler")).expect("remove the filler");
    leave_free(&tmpfs, 5 * MIB);
    let small_image = small.reference.rsplit_once(':').expect("name:tag").0;
    containerd
        .trust_insecure_registry(&registry.host_port())
        .expect("trust the registry");
    server.add_tag("n1", small_image, "v1", json!({})).await;
    let refused = wait_for_phase(
        &admin,
        "n1",
        small_image,
        "v1",
        ImagePullPhase::Failed,
        PULL_TIMEOUT,
    )
    .await;
    assert!(
        refused.message.starts_with("image filesystem /")
            && refused.message.contains("MiB free, below the 15% reserve"),
        "{refused:?}"
    );
    assert!(!image_present(&containerd, &small.reference).await);

    assert_eventually(
        "both failures are counted",
        Duration::from_secs(10),
        || async {
            let answer = http_get(metrics_port, "/metrics", Duration::from_secs(2)).await?;
            let line = "prepull_nodeagent_disk_reserve_failures_total 2";
            anyhow::ensure!(
                answer.body.contains(line),
                "{line} missing:\n{}",
                answer.body
            );
            Ok(())
        },
    )
    .await;
}
