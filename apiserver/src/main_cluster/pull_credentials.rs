//! [`PullCredentials`]: the registry credentials of one image's pull on one node, resolved
//! from the main cluster's Secrets that the NodeImage names for that image (`pullSecrets`,
//! `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`). Secrets are read when asked
//! (one GET each, no list, no cache): their contents only pass through memory on their way to
//! the node's agent; they are never stored, never logged. A Secret that does not exist is
//! skipped (the pull goes on without it) and its jobs get a warning Event.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use prepull_api::NodeImage;
use serde_json::{Value, json};

use super::events::{EventRecorder, PULL_SECRET_NOT_FOUND, Regarding};

/// Deadline of one Secret read.
const SECRET_TIMEOUT: Duration = Duration::from_secs(10);

const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
const DOCKER_CFG: &str = "kubernetes.io/dockercfg";
const DOCKER_CFG_KEY: &str = ".dockercfg";

/// Why no credentials could be given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// The node has no task for the image.
    #[error("node {node:?} has no task for image {image:?}")]
    NoTask { node: String, image: String },
    /// A Secret could not be read (not a plain "not found").
    #[error("reading pull secret {namespace}/{name} failed: {reason}")]
    Unreadable {
        namespace: String,
        name: String,
        reason: String,
    },
}

/// Resolves pull secrets in the main cluster.
#[derive(Clone)]
pub struct PullCredentials {
    client: kube::Client,
    events: EventRecorder,
}

impl std::fmt::Debug for PullCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullCredentials").finish_non_exhaustive()
    }
}

impl PullCredentials {
    /// Reads Secrets with `client`; missing ones are reported through `events`.
    pub fn new(client: kube::Client, events: EventRecorder) -> PullCredentials {
        PullCredentials { client, events }
    }

    /// The docker configs (`{"auths": {...}}`, one per usable Secret, in the NodeImage's
    /// order) for pulling `image` (a name without tag, as in the NodeImage spec) on the node
    /// of `node_image`. Fails when the node has no tag of `image` to pull.
    pub async fn for_image(
        &self,
        node_image: &NodeImage,
        image: &str,
    ) -> Result<Vec<Value>, CredentialsError> {
        let node = node_image.metadata.name.clone().unwrap_or_default();
        let spec = node_image
            .spec
            .images
            .get(image)
            .filter(|spec| !spec.tags.is_empty())
            .ok_or_else(|| CredentialsError::NoTask {
                node: node.clone(),
                image: image.to_owned(),
            })?;
        let mut configs = Vec::new();
        for secret in &spec.pull_secrets {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &secret.namespace);
            let unreadable = |reason: String| CredentialsError::Unreadable {
                namespace: secret.namespace.clone(),
                name: secret.name.clone(),
                reason,
            };
            let found = tokio::time::timeout(SECRET_TIMEOUT, api.get_opt(&secret.name))
                .await
                .map_err(|_| unreadable(format!("no answer within {SECRET_TIMEOUT:?}")))?
                .map_err(|err| unreadable(err.to_string()))?;
            let Some(found) = found else {
                self.report_missing(node_image, image, &secret.namespace, &secret.name)
                    .await;
                continue;
            };
            match docker_config(&found) {
                Some(config) => configs.push(config),
                None => tracing::warn!(
                    namespace = %secret.namespace,
                    secret = %secret.name,
                    "pull secret is not a readable docker config; skipped"
                ),
            }
        }
        Ok(configs)
    }

    /// A warning Event on every job of `namespace` that asked for `image` on this node.
    async fn report_missing(
        &self,
        node_image: &NodeImage,
        image: &str,
        namespace: &str,
        name: &str,
    ) {
        let node = node_image.metadata.name.clone().unwrap_or_default();
        let jobs: BTreeSet<(String, Option<String>)> = node_image
            .spec
            .images
            .get(image)
            .into_iter()
            .flat_map(|spec| &spec.tags)
            .flat_map(|tag| &tag.owner_references)
            .filter(|owner| owner.kind.as_deref() == Some("ImagePullJob"))
            .filter(|owner| owner.namespace.as_deref().is_none_or(|ns| ns == namespace))
            .filter_map(|owner| Some((owner.name.clone()?, owner.uid.clone())))
            .collect();
        tracing::warn!(%namespace, secret = %name, %node, %image, "pull secret not found; pulling without it");
        for (job, uid) in jobs {
            self.events
                .warning(
                    &Regarding::job(namespace, &job, uid),
                    PULL_SECRET_NOT_FOUND,
                    "ResolvePullSecrets",
                    format!(
                        "pull secret {namespace}/{name} not found: node {node} pulls {image} without it"
                    ),
                )
                .await;
        }
    }
}

/// The docker config held by `secret`, as `{"auths": {...}}`.
fn docker_config(secret: &Secret) -> Option<Value> {
    let data = secret.data.as_ref()?;
    match secret.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => {
            let config: Value =
                serde_json::from_slice(&data.get(DOCKER_CONFIG_JSON_KEY)?.0).ok()?;
            config.get("auths")?.is_object().then_some(config)
        }
        Some(DOCKER_CFG) => {
            let auths: Value = serde_json::from_slice(&data.get(DOCKER_CFG_KEY)?.0).ok()?;
            auths.is_object().then(|| json!({ "auths": auths }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(type_: &str, key: &str, value: &str) -> Secret {
        Secret {
            type_: Some(type_.to_owned()),
            data: Some(BTreeMap::from([(
                key.to_owned(),
                ByteString(value.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        }
    }

    #[test]
    fn dockerconfigjson_and_dockercfg_secrets_become_docker_configs() {
        let auths = json!({"r.example:5000": {"username": "u", "password": "p"}});
        let json_secret = secret(
            DOCKER_CONFIG_JSON,
            DOCKER_CONFIG_JSON_KEY,
            &json!({ "auths": auths }).to_string(),
        );
        assert_eq!(docker_config(&json_secret), Some(json!({ "auths": auths })));
        let cfg_secret = secret(DOCKER_CFG, DOCKER_CFG_KEY, &auths.to_string());
        assert_eq!(docker_config(&cfg_secret), Some(json!({ "auths": auths })));
    }

    #[test]
    fn other_secret_types_and_garbage_give_nothing() {
        assert_eq!(
            docker_config(&secret("Opaque", DOCKER_CONFIG_JSON_KEY, "{}")),
            None
        );
        assert_eq!(
            docker_config(&secret(
                DOCKER_CONFIG_JSON,
                DOCKER_CONFIG_JSON_KEY,
                "not json"
            )),
            None
        );
        assert_eq!(docker_config(&secret(DOCKER_CFG, "other-key", "{}")), None);
    }
}
