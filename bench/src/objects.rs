//! The objects the load is made of, identical for both servers.

use parking_lot::Mutex;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

/// Namespace of the benchmark's ImagePullJobs.
pub const NAMESPACE: &str = "bench";
/// The version every request uses (the one OpenKruise's documentation uses).
pub const VERSION: &str = "apps.kruise.io/v1alpha1";

/// `/apis/apps.kruise.io/v1alpha1/namespaces/bench/imagepulljobs`.
pub fn jobs_path() -> String {
    format!("/apis/{VERSION}/namespaces/{NAMESPACE}/imagepulljobs")
}

/// `/apis/apps.kruise.io/v1alpha1/nodeimages`.
pub fn node_images_path() -> String {
    format!("/apis/{VERSION}/nodeimages")
}

/// Name of the `i`th ImagePullJob of a write measurement.
pub fn job_name(run: &str, i: usize) -> String {
    format!("{run}-{i:06}")
}

/// An ImagePullJob as a user writes it; `parallelism` varies between updates.
pub fn job(name: &str, parallelism: i32, resource_version: Option<&str>) -> Value {
    let mut job = json!({
        "apiVersion": VERSION,
        "kind": "ImagePullJob",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "image": format!("registry.example.com/team/{name}:1.0"),
            "parallelism": parallelism,
            "selector": {"matchLabels": {"node-pool": "general"}},
            "completionPolicy": {"type": "Always", "activeDeadlineSeconds": 1200, "ttlSecondsAfterFinished": 300},
            "pullPolicy": {"backoffLimit": 3, "timeoutSeconds": 300}
        }
    });
    if let Some(rv) = resource_version {
        job["metadata"]["resourceVersion"] = rv.into();
    }
    job
}

/// The status merge patch a scheduler writes while a job runs.
pub fn job_status_patch(step: i32) -> Bytes {
    Bytes::from(
        json!({"status": {"desired": 100, "active": 5, "succeeded": step, "failed": 0}})
            .to_string(),
    )
}

/// Name of the `i`th NodeImage.
pub fn node_name(i: usize) -> String {
    format!("node-{i:05}")
}

/// A NodeImage of about `size` bytes of JSON: images with one tag each, as the scheduler
/// writes them, until the size is reached.
pub fn node_image(i: usize, size: usize) -> Bytes {
    Bytes::from(node_image_with(i, images_for(size)).to_string())
}

/// How many images make a NodeImage of at least `size` bytes (the same for every name of the
/// fixed-width [`node_name`] form); computed once per size.
fn images_for(size: usize) -> usize {
    static COUNTS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());
    if let Some(n) = COUNTS.lock().get(&size) {
        return *n;
    }
    let mut n = 0;
    while node_image_with(0, n).to_string().len() < size {
        n += 1;
    }
    COUNTS.lock().insert(size, n);
    n
}

fn node_image_with(i: usize, images: usize) -> Value {
    let images: serde_json::Map<String, Value> = (0..images)
        .map(|n| {
            let name = format!("registry.example.com/team-{}/service-{n:04}", n % 7);
            let image = json!({"tags": [{
                "tag": format!("v1.{n}"),
                "version": 1,
                "createdAt": "2026-11-28T10:00:00Z",
                "pullPolicy": {"backoffLimit": 3, "timeoutSeconds": 600, "ttlSecondsAfterFinished": 300, "activeDeadlineSeconds": 1200},
                "ownerReferences": [{"apiVersion": VERSION, "kind": "ImagePullJob", "namespace": NAMESPACE, "name": format!("job-{n}"), "uid": format!("00000000-0000-4000-8000-{n:012}")}]
            }]});
            (name, image)
        })
        .collect();
    json!({
        "apiVersion": VERSION,
        "kind": "NodeImage",
        "metadata": {"name": node_name(i), "labels": {"node-pool": "general", "zone": format!("zone-{}", i % 3)}},
        "spec": {"images": images}
    })
}

/// A merge patch marking a NodeImage with when it was written (nanoseconds on the load
/// generator's clock), so a watcher can tell how long delivery took.
pub fn stamp_patch(sent_ns: u128) -> Bytes {
    Bytes::from(
        json!({"metadata": {"annotations": {"bench.prepull.io/sent-ns": sent_ns.to_string()}}})
            .to_string(),
    )
}

/// The stamp [`stamp_patch`] wrote, found in a watch event's JSON line.
pub fn stamp_of(line: &[u8]) -> Option<u128> {
    const KEY: &[u8] = b"\"bench.prepull.io/sent-ns\":\"";
    let start = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&line[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_images_come_in_the_requested_size() {
        for size in [2_000, 10_000, 40_000] {
            let len = node_image(7, size).len();
            assert!(len >= size && len < size + size / 5 + 500, "{size}: {len}");
        }
    }

    #[test]
    fn a_stamp_is_found_again_in_an_event() {
        let patch: Value = serde_json::from_slice(&stamp_patch(1234567)).unwrap();
        let event = json!({"type": "MODIFIED", "object": patch}).to_string();
        assert_eq!(stamp_of(event.as_bytes()), Some(1234567));
        assert_eq!(stamp_of(b"{\"type\":\"MODIFIED\"}"), None);
    }
}
