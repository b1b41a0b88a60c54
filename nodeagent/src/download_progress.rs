//! Byte progress of a running pull, where the runtime is containerd: the CRI has no progress,
//! but containerd lists its in-flight downloads ("ingestions") on its own content API, on the
//! same socket (`containerd.services.content.v1.Content/ListStatuses`, namespace `k8s.io`).
//!
//! While a pull runs, [`DownloadProgress::while_pulling`] polls the layer downloads
//! (`ref~="^layer-"`) every [`POLL_INTERVAL`] and feeds them to a [`ProgressEstimate`]: bytes
//! arrived over bytes expected, across the layers seen so far; a layer that leaves the list is
//! complete. Containerd names downloads by digest only, so when several pulls run at once a
//! pull also counts layers of the others that started while it ran (downloads already in flight
//! when it started are not its own and are ignored). The estimate never goes down and stays
//! below 100 until the pull succeeds. Other runtimes report 0, then 100.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prepull_cri::containerd::services::content::v1::content_client::ContentClient;
use prepull_cri::containerd::services::content::v1::{ListStatusesRequest, Status};
use prepull_cri::{CONTAINERD_NAMESPACE_HEADER, CRI_CONTAINERD_NAMESPACE};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::metrics::{AgentMetrics, RuntimeCall};

/// How often a running pull's downloads are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Deadline of one `ListStatuses` call.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);
/// The filter selecting layer downloads (pulls name them `layer-<digest>`).
pub const LAYER_FILTER: &str = "ref~=\"^layer-\"";

/// containerd's ingestion listing, for progress.
#[derive(Debug, Clone)]
pub struct DownloadProgress {
    client: ContentClient<Channel>,
    metrics: AgentMetrics,
}

impl DownloadProgress {
    /// The content API on `channel` (containerd's socket); failed calls are counted in
    /// `metrics`.
    pub fn new(channel: Channel, metrics: AgentMetrics) -> DownloadProgress {
        DownloadProgress {
            client: ContentClient::new(channel),
            metrics,
        }
    }

    /// The layer downloads in flight in the CRI namespace.
    pub async fn layer_downloads(&self) -> Result<Vec<Status>, tonic::Status> {
        let mut request = tonic::Request::new(ListStatusesRequest {
            filters: vec![LAYER_FILTER.to_owned()],
        });
        request.set_timeout(LIST_TIMEOUT);
        request.metadata_mut().insert(
            CONTAINERD_NAMESPACE_HEADER,
            MetadataValue::from_static(CRI_CONTAINERD_NAMESPACE),
        );
        let mut client = self.client.clone();
        let call = client.list_statuses(request);
        let result = match tokio::time::timeout(LIST_TIMEOUT, call).await {
            Ok(result) => result.map(|response| response.into_inner().statuses),
            Err(_) => Err(tonic::Status::deadline_exceeded("ListStatuses timed out")),
        };
        if let Err(status) = &result {
            self.metrics.cri_error(RuntimeCall::ListStatuses);
            tracing::debug!(%status, "listing containerd's downloads failed");
        }
        result
    }

    /// A fresh estimate for a pull about to start: downloads in flight now are not its own.
    pub async fn start_estimate(&self) -> ProgressEstimate {
        let before = self.layer_downloads().await.unwrap_or_default();
        ProgressEstimate::ignoring(&before)
    }

    /// Runs `pull` to its end; meanwhile polls the downloads, updates `estimate` and calls
    /// `report` with each new percentage, then `guard` with the estimate: when the guard says
    /// no, gives up on the pull (dropping it, which cancels the CRI call) with its error.
    pub async fn while_pulling<F: Future, E>(
        &self,
        estimate: &mut ProgressEstimate,
        pull: F,
        mut report: impl FnMut(u8),
        mut guard: impl FnMut(&ProgressEstimate) -> Result<(), E>,
    ) -> Result<F::Output, E> {
        let mut pull = std::pin::pin!(pull);
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                output = &mut pull => return Ok(output),
                _ = ticks.tick() => {
                    let Ok(downloads) = self.layer_downloads().await else { continue };
                    let before = estimate.percent();
                    let now = estimate.observe(&downloads);
                    if now != before {
                        report(now);
                    }
                    guard(estimate)?;
                }
            }
        }
    }
}

/// The progress of one pull, from the downloads it was seen to cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressEstimate {
    /// Downloads in flight before the pull started.
    ignored: BTreeSet<String>,
    /// Per download ref: bytes arrived, bytes expected.
    seen: BTreeMap<String, (u64, u64)>,
    /// How many of the pull's downloads were in flight at the last observation.
    in_flight: usize,
    percent: u8,
}

impl ProgressEstimate {
    /// An estimate that leaves out the downloads in `in_flight_before`.
    pub fn ignoring(in_flight_before: &[Status]) -> ProgressEstimate {
        ProgressEstimate {
            ignored: in_flight_before.iter().map(|s| s.r#ref.clone()).collect(),
            ..ProgressEstimate::default()
        }
    }

    /// The percentage so far (0 to 99).
    pub fn percent(&self) -> u8 {
        self.percent
    }

    /// Bytes of the pull's downloads that have arrived so far (a finished download counts
    /// whole).
    pub fn arrived_bytes(&self) -> u64 {
        self.seen
            .values()
            .fold(0u64, |sum, (arrived, _)| sum.saturating_add(*arrived))
    }

    /// Bytes the pull's downloads seen so far still expect.
    pub fn pending_bytes(&self) -> u64 {
        self.seen.values().fold(0u64, |sum, (arrived, expected)| {
            sum.saturating_add(expected.saturating_sub(*arrived))
        })
    }

    /// How many of the pull's downloads were in flight when last observed.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes in the downloads in flight now and returns the new percentage: a download seen
    /// before and gone now has completed; those with an unknown size are skipped.
    pub fn observe(&mut self, in_flight: &[Status]) -> u8 {
        let current: BTreeMap<&str, &Status> = in_flight
            .iter()
            .filter(|s| s.total > 0 && !self.ignored.contains(&s.r#ref))
            .map(|s| (s.r#ref.as_str(), s))
            .collect();
        for (reference, (arrived, expected)) in &mut self.seen {
            if !current.contains_key(reference.as_str()) {
                *arrived = *expected;
            }
        }
        self.in_flight = current.len();
        for (reference, status) in current {
            let expected = status.total.unsigned_abs();
            let arrived = status.offset.max(0).unsigned_abs().min(expected);
            self.seen.insert(reference.to_owned(), (arrived, expected));
        }
        let (arrived, expected) = self
            .seen
            .values()
            .fold((0u64, 0u64), |(a, e), (arrived, expected)| {
                (a.saturating_add(*arrived), e.saturating_add(*expected))
            });
        if let Some(percent) = arrived.saturating_mul(100).checked_div(expected) {
            let percent = u8::try_from(percent.min(99)).unwrap_or(99);
            self.percent = self.percent.max(percent);
        }
        self.percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(reference: &str, offset: i64, total: i64) -> Status {
        Status {
            r#ref: reference.into(),
            offset,
            total,
            expected: String::new(),
        }
    }

    #[test]
    fn bytes_arrived_over_bytes_expected_across_the_layers_seen() {
        let mut estimate = ProgressEstimate::default();
        assert_eq!(
            estimate.observe(&[download("layer-a", 25, 100), download("layer-b", 0, 100)]),
            12
        );
        assert_eq!(
            estimate.observe(&[download("layer-a", 100, 100), download("layer-b", 50, 100)]),
            75
        );
    }

    #[test]
    fn a_download_that_left_the_list_counts_as_complete_and_the_estimate_never_reaches_100() {
        let mut estimate = ProgressEstimate::default();
        estimate.observe(&[download("layer-a", 10, 100), download("layer-b", 10, 100)]);
        assert_eq!(estimate.observe(&[download("layer-b", 90, 100)]), 95);
        assert_eq!(estimate.observe(&[]), 99);
    }

    #[test]
    fn the_estimate_never_goes_down_when_a_new_layer_appears() {
        let mut estimate = ProgressEstimate::default();
        assert_eq!(estimate.observe(&[download("layer-a", 80, 100)]), 80);
        assert_eq!(estimate.observe(&[download("layer-b", 0, 900)]), 80);
    }

    #[test]
    fn downloads_in_flight_before_the_pull_and_unknown_sizes_are_left_out() {
        let mut estimate = ProgressEstimate::ignoring(&[download("layer-old", 1, 1000)]);
        assert_eq!(
            estimate.observe(&[
                download("layer-old", 999, 1000),
                download("layer-unsized", 5, 0),
                download("layer-new", 30, 100),
            ]),
            30
        );
    }
}
