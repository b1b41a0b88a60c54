//! S4 memory: the server's resident memory with N NodeImages after a whole list warmed its
//! caches (kube-apiserver's watch cache fills at start; Prepull's too).

use anyhow::Result;
use serde_json::{Value, json};

use crate::process::{peak_rss_kib, rss_kib};
use crate::system::Endpoint;

/// RSS now and the peak so far, KiB.
pub fn sample(endpoint: &Endpoint) -> Result<Value> {
    Ok(json!({
        "rss_kib": rss_kib(endpoint.pid)?,
        "peak_rss_kib": peak_rss_kib(endpoint.pid)?,
        "etcd_rss_kib": rss_kib(endpoint.etcd_pid)?,
    }))
}
