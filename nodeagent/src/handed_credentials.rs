//! Pull credentials handed over by the API server (cluster mode): the agent never reads
//! Secrets. For a task whose image names `pullSecrets`, the agent asks its own NodeImage's
//! `credentials` subresource (`GET .../nodeimages/<node>/credentials?image=<name>`); the API
//! server resolves the Secrets and answers only this node's identity. The answer holds docker
//! configs; the ones matching the image are tried before the node-level credentials. The
//! answer lives in memory for the one pull and is never logged; on any failure the pull goes
//! on with the node-level credentials.

use std::time::Duration;

use prepull_api::GROUP;
use serde::Deserialize;

use crate::docker_config::{Credential, DockerConfig};

/// Deadline of one request for credentials.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The API version asked.
const VERSION: &str = "v1beta1";

/// Fetches the credentials the API server hands this node.
#[derive(Clone)]
pub struct HandedCredentials {
    client: kube::Client,
    node: String,
}

impl std::fmt::Debug for HandedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandedCredentials")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The subresource's answer.
#[derive(Deserialize)]
struct NodeCredentials {
    #[serde(default)]
    configs: Vec<serde_json::Value>,
}

impl HandedCredentials {
    /// Asks as `client` for node `node`'s credentials.
    pub fn new(client: kube::Client, node: String) -> HandedCredentials {
        HandedCredentials { client, node }
    }

    /// The handed credentials matching `image` (a name without tag), most specific first per
    /// Secret, Secrets in the NodeImage's order. Empty when none are handed or the request
    /// fails (logged, without content).
    pub async fn fetch(&self, image: &str) -> Vec<Credential> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("image", image)
            .finish();
        let path = format!(
            "/apis/{GROUP}/{VERSION}/nodeimages/{}/credentials?{query}",
            self.node
        );
        let request = match http::Request::get(path).body(Vec::new()) {
            Ok(request) => request,
            Err(err) => {
                tracing::warn!(%image, %err, "cannot build the credentials request");
                return Vec::new();
            }
        };
        let text = match tokio::time::timeout(FETCH_TIMEOUT, self.client.request_text(request))
            .await
        {
            Ok(Ok(text)) => text,
            Ok(Err(err)) => {
                tracing::warn!(%image, %err, "no pull credentials handed; pulling with the node's own");
                return Vec::new();
            }
            Err(_) => {
                tracing::warn!(%image, "the credentials request timed out; pulling with the node's own");
                return Vec::new();
            }
        };
        // Parse errors could quote the content: report none of it.
        let Ok(answer) = serde_json::from_str::<NodeCredentials>(&text) else {
            tracing::warn!(%image, "the handed credentials do not parse; ignored");
            return Vec::new();
        };
        answer
            .configs
            .iter()
            .filter_map(|config| DockerConfig::parse(&config.to_string()).ok())
            .flat_map(|config| config.matching(image))
            .collect()
    }
}
