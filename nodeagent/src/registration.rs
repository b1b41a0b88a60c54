//! Standalone registration: the agent creates its own NodeImage (with the labels from its
//! command line) and keeps those labels on it.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use prepull_api::{NodeImage, NodeImageSpec};
use serde_json::json;

/// Deadline of each registration call.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The API server refused or failed the call.
    #[error("registering NodeImage {node}: {source}")]
    Api {
        /// The node.
        node: String,
        /// What the API said.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer in time.
    #[error("registering NodeImage {node}: no answer within {CALL_TIMEOUT:?}")]
    Timeout {
        /// The node.
        node: String,
    },
}

/// Makes sure NodeImage `node` exists and carries `labels` (other labels are left alone).
pub async fn ensure_registered(
    api: &Api<NodeImage>,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), RegistrationError> {
    let api_error = |source| RegistrationError::Api {
        node: node.to_owned(),
        source,
    };
    let existing = deadline(node, api.get_opt(node))
        .await?
        .map_err(api_error)?;
    let existing = match existing {
        Some(existing) => existing,
        None => {
            let mut object = NodeImage::new(node, NodeImageSpec::default());
            object.metadata.labels = Some(labels.clone());
            match deadline(node, api.create(&PostParams::default(), &object)).await? {
                Ok(_) => {
                    tracing::info!(node, "registered NodeImage");
                    return Ok(());
                }
                // Created meanwhile (e.g. by a previous run): check its labels below.
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    deadline(node, api.get(node)).await?.map_err(api_error)?
                }
                Err(err) => return Err(api_error(err)),
            }
        }
    };
    let current = existing.metadata.labels.unwrap_or_default();
    if labels.iter().all(|(k, v)| current.get(k) == Some(v)) {
        return Ok(());
    }
    let patch = json!({ "metadata": { "labels": labels } });
    deadline(
        node,
        api.patch(node, &PatchParams::default(), &Patch::Merge(&patch)),
    )
    .await?
    .map_err(api_error)?;
    tracing::info!(node, "updated the NodeImage's labels");
    Ok(())
}

async fn deadline<T>(node: &str, call: impl Future<Output = T>) -> Result<T, RegistrationError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| RegistrationError::Timeout {
            node: node.to_owned(),
        })
}
