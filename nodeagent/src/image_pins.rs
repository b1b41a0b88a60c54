//! Pinned while wanted: an image this agent pulled stays pinned in containerd for as long as a
//! tag naming it is in the node's NodeImage spec, so kubelet's image garbage collection does not
//! delete a pre-pulled image before a pod uses it.
//!
//! A pin is the label `io.cri-containerd.pinned=pinned` on containerd's image record (the name
//! the pull created, `host/repo:tag` or `host/repo@sha256:...`), set through containerd's own
//! images API on the CRI socket (`Images.Update` with a field mask naming only that label, in
//! namespace `k8s.io`). containerd's CRI plugin (1.7 and later) reports such an image as
//! `pinned`, and kubelet's image GC skips pinned images. The agent marks its pins with a second
//! label, [`PINNED_BY_LABEL`]`=`[`OWNER`], so that it only ever removes pins it made: an image
//! pinned by someone else (the CRI's sandbox image, an operator) is left as it is.
//!
//! [`run`] keeps containerd in line with the task table: after the first spec was reconciled it
//! lists the records carrying the agent's mark (pins a previous run left), pins each tag whose
//! pull succeeded, keeps the pin while the tag stays in the spec (a re-pull at a new version
//! does not unpin), and unpins records whose tags left the spec (TTL, job deleted, NodeImage
//! gone). Failed calls are retried every [`RETRY_INTERVAL`]. Images are never deleted. With
//! pinning turned off (`--pin-images=false`) the same loop runs with nothing wanted, so pins of
//! an earlier run are released.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use prepull_cri::containerd::services::images::v1::images_client::ImagesClient;
use prepull_cri::containerd::services::images::v1::{
    FieldMask, GetImageRequest, Image, ListImagesRequest, UpdateImageRequest,
};
use prepull_cri::{
    CONTAINERD_NAMESPACE_HEADER, CRI_CONTAINERD_NAMESPACE, CRI_PINNED_LABEL, CRI_PINNED_VALUE,
};
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::metrics::{AgentMetrics, RuntimeCall};
use crate::pull_task::{AGENT_NAME, reference};
use crate::task_table::{TaskKey, TaskTable};

/// The label marking a pin as this agent's.
pub const PINNED_BY_LABEL: &str = "prepull.io/pinned-by";
/// Its value.
pub const OWNER: &str = AGENT_NAME;
/// Deadline of one images API call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon failed calls are tried again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// containerd's image records, as the agent labels them.
#[derive(Debug, Clone)]
pub struct ContainerdImages {
    client: ImagesClient<Channel>,
    metrics: AgentMetrics,
}

impl ContainerdImages {
    /// The images API on `channel` (containerd's socket); failed calls are counted in
    /// `metrics` under `call="Images"`.
    pub fn new(channel: Channel, metrics: AgentMetrics) -> ContainerdImages {
        ContainerdImages {
            client: ImagesClient::new(channel),
            metrics,
        }
    }

    /// The record `name`, or `None` when containerd has none.
    pub async fn get(&self, name: &str) -> Result<Option<Image>, tonic::Status> {
        let request = GetImageRequest {
            name: name.to_owned(),
        };
        let mut client = self.client.clone();
        match self.call(client.get(in_cri_namespace(request))).await {
            Ok(response) => Ok(response.image),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// Names of the records this agent pinned and that are pinned still (carrying
    /// [`PINNED_BY_LABEL`]`=`[`OWNER`] and the CRI's pinned label: a record whose pin someone
    /// removed is not ours to keep, and is pinned again when wanted).
    pub async fn pinned_by_us(&self) -> Result<BTreeSet<String>, tonic::Status> {
        // Selectors separated by commas within one filter must all match.
        let request = ListImagesRequest {
            filters: vec![format!(
                "labels.\"{PINNED_BY_LABEL}\"==\"{OWNER}\",labels.\"{CRI_PINNED_LABEL}\"==\"{CRI_PINNED_VALUE}\""
            )],
        };
        let mut client = self.client.clone();
        let response = self.call(client.list(in_cri_namespace(request))).await?;
        Ok(response
            .images
            .into_iter()
            .map(|image| image.name)
            .collect())
    }

    /// Sets `labels` on `image` (an empty value removes the label), touching no other field or
    /// label. The target goes back as `Get` returned it: containerd 1.7 reads it even though the
    /// mask does not name it.
    pub async fn set_labels(
        &self,
        image: Image,
        labels: &[(&str, &str)],
    ) -> Result<(), tonic::Status> {
        let request = UpdateImageRequest {
            update_mask: Some(FieldMask {
                paths: labels
                    .iter()
                    .map(|(key, _)| format!("labels.{key}"))
                    .collect(),
            }),
            image: Some(Image {
                labels: labels
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
                ..image
            }),
        };
        let mut client = self.client.clone();
        self.call(client.update(in_cri_namespace(request)))
            .await
            .map(drop)
    }

    async fn call<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        let result = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(
                "the images API did not answer",
            )),
        };
        if let Err(status) = &result
            && status.code() != tonic::Code::NotFound
        {
            self.metrics.cri_error(RuntimeCall::Images);
        }
        result
    }
}

fn in_cri_namespace<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request.metadata_mut().insert(
        CONTAINERD_NAMESPACE_HEADER,
        MetadataValue::from_static(CRI_CONTAINERD_NAMESPACE),
    );
    request
}

/// What to do with the records, from the table: `pin` those of succeeded tags, `keep` every
/// record a tag of the spec names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wanted {
    /// Records to pin (their tag succeeded).
    pub pin: BTreeSet<String>,
    /// Records whose pin stays (a tag of the spec names them).
    pub keep: BTreeSet<String>,
}

impl Wanted {
    /// From `tags` ([`TaskTable::tags_succeeded`]).
    pub fn from_tags(tags: &BTreeMap<TaskKey, bool>) -> Wanted {
        let mut wanted = Wanted::default();
        for ((image, tag), succeeded) in tags {
            let name = containerd_image_name(&reference(image, tag));
            if *succeeded {
                wanted.pin.insert(name.clone());
            }
            wanted.keep.insert(name);
        }
        wanted
    }
}

/// The pins this agent holds, and the records it leaves to others.
#[derive(Debug)]
pub struct ImagePins {
    images: ContainerdImages,
    /// Our pins, once listed (`None` until containerd answered the first listing).
    ours: Option<BTreeSet<String>>,
    /// Wanted records found pinned by someone else (or missing): not touched until the wanted
    /// set changes.
    left_alone: BTreeSet<String>,
}

impl ImagePins {
    /// No pins known yet; the first [`ImagePins::reconcile`] lists them.
    pub fn new(images: ContainerdImages) -> ImagePins {
        ImagePins {
            images,
            ours: None,
            left_alone: BTreeSet::new(),
        }
    }

    /// The records this agent has pinned, as far as it knows.
    pub fn ours(&self) -> BTreeSet<String> {
        self.ours.clone().unwrap_or_default()
    }

    /// Pins what `wanted` says to pin, unpins our pins it does not keep; returns the first
    /// error (the rest is still attempted).
    pub async fn reconcile(&mut self, wanted: &Wanted) -> Result<(), tonic::Status> {
        let mut ours = match self.ours.take() {
            Some(ours) => ours,
            None => self.images.pinned_by_us().await?,
        };
        let mut first_error = None;
        self.left_alone.retain(|name| wanted.keep.contains(name));
        for name in wanted.pin.difference(&ours.clone()) {
            if self.left_alone.contains(name) {
                continue;
            }
            match self.pin(name).await {
                Ok(true) => {
                    ours.insert(name.clone());
                }
                Ok(false) => {
                    self.left_alone.insert(name.clone());
                }
                Err(status) => {
                    tracing::warn!(image = name, %status, "pinning failed");
                    first_error.get_or_insert(status);
                }
            }
        }
        for name in ours.clone().difference(&wanted.keep) {
            match self.unpin(name).await {
                Ok(()) => {
                    ours.remove(name);
                }
                Err(status) => {
                    tracing::warn!(image = name, %status, "unpinning failed");
                    first_error.get_or_insert(status);
                }
            }
        }
        self.ours = Some(ours);
        first_error.map_or(Ok(()), Err)
    }

    /// Pins `name`; `false` when it is missing or pinned by someone else (left alone).
    async fn pin(&self, name: &str) -> Result<bool, tonic::Status> {
        let Some(image) = self.images.get(name).await? else {
            tracing::info!(
                image = name,
                "not pinned: containerd has no such image record"
            );
            return Ok(false);
        };
        let label = |key: &str| image.labels.get(key).map(String::as_str);
        if label(CRI_PINNED_LABEL) == Some(CRI_PINNED_VALUE)
            && label(PINNED_BY_LABEL) != Some(OWNER)
        {
            tracing::info!(image = name, "already pinned by someone else; left alone");
            return Ok(false);
        }
        self.images
            .set_labels(
                image,
                &[
                    (CRI_PINNED_LABEL, CRI_PINNED_VALUE),
                    (PINNED_BY_LABEL, OWNER),
                ],
            )
            .await?;
        tracing::info!(image = name, "pinned");
        Ok(true)
    }

    /// Removes our pin from `name` (nothing when the record is gone or no longer ours).
    async fn unpin(&self, name: &str) -> Result<(), tonic::Status> {
        let Some(image) = self.images.get(name).await? else {
            return Ok(());
        };
        if image.labels.get(PINNED_BY_LABEL).map(String::as_str) != Some(OWNER) {
            return Ok(());
        }
        self.images
            .set_labels(image, &[(CRI_PINNED_LABEL, ""), (PINNED_BY_LABEL, "")])
            .await?;
        tracing::info!(image = name, "unpinned");
        Ok(())
    }
}

/// Keeps the pins in line with `table` until `stop` fires (see the module docs); with
/// `enabled` false nothing is wanted, so only earlier pins are released.
pub async fn run(
    mut pins: ImagePins,
    table: Arc<TaskTable>,
    enabled: bool,
    stop: CancellationToken,
) {
    let mut changes = table.subscribe();
    let mut done: Option<Wanted> = None;
    let mut failed = false;
    loop {
        if let Some(tags) = table.tags_succeeded() {
            let wanted = if enabled {
                Wanted::from_tags(&tags)
            } else {
                Wanted::default()
            };
            if failed || done.as_ref() != Some(&wanted) {
                failed = pins.reconcile(&wanted).await.is_err();
                done = Some(wanted);
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(RETRY_INTERVAL), if failed => {}
        }
    }
}

/// The name containerd gives the record of a pull of `reference`: the reference in its
/// fully-qualified form (`nginx:1` -> `docker.io/library/nginx:1`, `reg:5000/app:v1` as it is),
/// as the CRI normalises references.
pub fn containerd_image_name(reference: &str) -> String {
    let (first, rest) = match reference.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest.to_owned())
        }
        _ => ("docker.io", reference.to_owned()),
    };
    let domain = if first == "index.docker.io" {
        "docker.io"
    } else {
        first
    };
    let path = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    format!("{domain}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_named_as_containerd_names_their_records() {
        for (reference, name) in [
            ("nginx:1", "docker.io/library/nginx:1"),
            ("team/app:v1", "docker.io/team/app:v1"),
            ("index.docker.io/nginx:1", "docker.io/library/nginx:1"),
            ("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1"),
            ("localhost/app:v1", "localhost/app:v1"),
            ("reg.example/app@sha256:ab", "reg.example/app@sha256:ab"),
        ] {
            assert_eq!(containerd_image_name(reference), name, "{reference}");
        }
    }

    #[test]
    fn succeeded_tags_are_pinned_and_every_tag_of_the_spec_keeps_its_pin() {
        let tags = BTreeMap::from([
            (("reg:5000/app".to_owned(), "v1".to_owned()), true),
            (("reg:5000/app".to_owned(), "v2".to_owned()), false),
        ]);
        let wanted = Wanted::from_tags(&tags);
        assert_eq!(wanted.pin, BTreeSet::from(["reg:5000/app:v1".to_owned()]));
        assert_eq!(
            wanted.keep,
            BTreeSet::from(["reg:5000/app:v1".to_owned(), "reg:5000/app:v2".to_owned()])
        );
    }
}
