//! [`PullCredentials`]: the registry credentials of one image's pull on one node, resolved
//! from the jobs that own that pull, never from anything a node can write.
//!
//! The NodeImage's tags of the image name their owners (`ownerReferences`, written by the
//! scheduler; a node may not change its NodeImage's spec, see
//! [`crate::auth::node_restriction`]). A Secret is handed only when an ImagePullJob that
//! exists with that uid, in the Secret's namespace, pulls that very image and tag there, and
//! lists the Secret in its `spec.pullSecrets`. The `pullSecrets` copied into the NodeImage
//! (kept for OpenKruise compatibility) are not read.
//!
//! Secrets (`kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`) are read when asked
//! (one GET each, no list, no cache): their contents only pass through memory on their way to
//! the node's agent; they are never stored, never logged. A Secret that does not exist is
//! skipped (the pull goes on without it) and its jobs get a warning Event.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use prepull_api::reference::ImageReference;
use prepull_api::{ImagePullJob, Kind, NodeImage};
use serde_json::{Value, json};

use super::events::{EventRecorder, PULL_SECRET_NOT_FOUND, Regarding};
use crate::registry::{ReadRevision, Registry};

/// Deadline of one Secret read.
const SECRET_TIMEOUT: Duration = Duration::from_secs(10);

const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
const DOCKER_CFG: &str = "kubernetes.io/dockercfg";
const DOCKER_CFG_KEY: &str = ".dockercfg";

/// Why no credentials could be given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// The node has no task for the image that a live job owns.
    #[error("node {node:?} has no task for image {image:?}")]
    NoTask { node: String, image: String },
    /// An owning job could not be read; the agent may ask again.
    #[error("reading job {namespace}/{name} failed: {reason}")]
    JobUnreadable {
        namespace: String,
        name: String,
        reason: String,
    },
    /// A Secret could not be read (not a plain "not found").
    #[error("reading pull secret {namespace}/{name} failed: {reason}")]
    Unreadable {
        namespace: String,
        name: String,
        reason: String,
    },
}

/// One pull task's owner on a NodeImage: the job named by a tag's ownerReference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskOwner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The tag (or digest) of the image the task pulls.
    pub tag: String,
}

/// A Secret a node may be handed: `(namespace, name)`.
pub type GrantedSecret = (String, String);

/// The owners of `node_image`'s tasks for `image`, or `None` when it has no tag of `image`.
pub fn task_owners(node_image: &NodeImage, image: &str) -> Option<BTreeSet<TaskOwner>> {
    let spec = node_image
        .spec
        .images
        .get(image)
        .filter(|spec| !spec.tags.is_empty())?;
    let owners = spec
        .tags
        .iter()
        .flat_map(|tag| tag.owner_references.iter().map(move |o| (tag, o)))
        .filter(|(_, owner)| owner.kind.as_deref() == Some(Kind::ImagePullJob.info().name))
        .filter_map(|(tag, owner)| {
            Some(TaskOwner {
                namespace: owner.namespace.clone().filter(|ns| !ns.is_empty())?,
                name: owner.name.clone().filter(|n| !n.is_empty())?,
                uid: owner.uid.clone().filter(|u| !u.is_empty())?,
                tag: tag.tag.clone(),
            })
        })
        .collect();
    Some(owners)
}

/// The Secrets `owner`'s job grants for pulling `image`: its `spec.pullSecrets`, when `job` is
/// that very job (same uid) and pulls `image` at the owner's tag; nothing otherwise.
pub fn granted_by(owner: &TaskOwner, job: &ImagePullJob, image: &str) -> Vec<GrantedSecret> {
    let same_job = job.metadata.uid.as_deref() == Some(owner.uid.as_str())
        && job.metadata.namespace.as_deref() == Some(owner.namespace.as_str());
    let pulls_it = ImageReference::parse(&job.spec.image)
        .map(|reference| reference.name_and_tag() == (image.to_owned(), owner.tag.clone()))
        .unwrap_or(false);
    if !(same_job && pulls_it) {
        return Vec::new();
    }
    job.spec
        .template
        .pull_secrets
        .iter()
        .filter(|name| !name.is_empty())
        .map(|name| (owner.namespace.clone(), name.clone()))
        .collect()
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

    /// The docker configs (`{"auths": {...}}`, one per usable Secret, in the jobs' order) for
    /// pulling `image` (a name without tag, as in the NodeImage spec) on the node of
    /// `node_image`, from the Secrets its owning jobs in `registry` list. Fails when no live
    /// job owns a task of `image` there.
    pub async fn for_image(
        &self,
        registry: &Registry,
        node_image: &NodeImage,
        image: &str,
    ) -> Result<Vec<Value>, CredentialsError> {
        let node = node_image.metadata.name.clone().unwrap_or_default();
        let no_task = || CredentialsError::NoTask {
            node: node.clone(),
            image: image.to_owned(),
        };
        let owners = task_owners(node_image, image).ok_or_else(no_task)?;
        let mut live_owner = false;
        let mut secrets: Vec<GrantedSecret> = Vec::new();
        for owner in &owners {
            let Some(job) = read_job(registry, owner).await? else {
                continue;
            };
            let granted = granted_by(owner, &job, image);
            live_owner |= job.metadata.uid.as_deref() == Some(owner.uid.as_str());
            for secret in granted {
                if !secrets.contains(&secret) {
                    secrets.push(secret);
                }
            }
        }
        if !live_owner {
            return Err(no_task());
        }
        let mut configs = Vec::new();
        for (namespace, name) in &secrets {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
            let unreadable = |reason: String| CredentialsError::Unreadable {
                namespace: namespace.clone(),
                name: name.clone(),
                reason,
            };
            let found = tokio::time::timeout(SECRET_TIMEOUT, api.get_opt(name))
                .await
                .map_err(|_| unreadable(format!("no answer within {SECRET_TIMEOUT:?}")))?
                .map_err(|err| unreadable(err.to_string()))?;
            let Some(found) = found else {
                self.report_missing(node_image, image, namespace, name)
                    .await;
                continue;
            };
            match docker_config(&found) {
                Some(config) => configs.push(config),
                None => tracing::warn!(
                    %namespace,
                    secret = %name,
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

/// The job `owner` names, if it exists.
async fn read_job(
    registry: &Registry,
    owner: &TaskOwner,
) -> Result<Option<ImagePullJob>, CredentialsError> {
    let unreadable = |reason: String| CredentialsError::JobUnreadable {
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
        reason,
    };
    let read = registry
        .store(Kind::ImagePullJob)
        .get(Some(&owner.namespace), &owner.name, ReadRevision::Latest)
        .await;
    match read {
        Ok(object) => serde_json::from_value((*object.value()).clone())
            .map(Some)
            .map_err(|err| unreadable(err.to_string())),
        Err(err) if err.code.as_u16() == 404 => Ok(None),
        Err(err) => Err(unreadable(err.message)),
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

    fn job(namespace: &str, uid: &str, image: &str, secrets: &[&str]) -> ImagePullJob {
        serde_json::from_value(json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "j", "namespace": namespace, "uid": uid},
            "spec": {"image": image, "pullSecrets": secrets},
        }))
        .unwrap()
    }

    fn node_image_with(owner_namespace: &str, node_secrets: Value) -> NodeImage {
        serde_json::from_value(json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "NodeImage",
            "metadata": {"name": "n1"},
            "spec": {"images": {"r.example/team/app": {
                "pullSecrets": node_secrets,
                "tags": [{"tag": "1.0", "version": 1, "ownerReferences": [
                    {"apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
                     "namespace": owner_namespace, "name": "j", "uid": "u1"},
                ]}],
            }}},
        }))
        .unwrap()
    }

    #[test]
    fn a_job_owning_the_task_grants_its_own_secrets_in_its_namespace() {
        let node = node_image_with("team", json!([]));
        let owners = task_owners(&node, "r.example/team/app").unwrap();
        let owner = owners.iter().next().unwrap();
        let granted = granted_by(
            owner,
            &job("team", "u1", "r.example/team/app:1.0", &["regcred"]),
            "r.example/team/app",
        );
        assert_eq!(granted, vec![("team".to_owned(), "regcred".to_owned())]);
    }

    #[test]
    fn secrets_written_into_the_node_image_grant_nothing() {
        let node = node_image_with(
            "team",
            json!([{"namespace": "kube-system", "name": "admin"}]),
        );
        let owner = task_owners(&node, "r.example/team/app")
            .unwrap()
            .pop_first()
            .unwrap();
        let granted = granted_by(
            &owner,
            &job("team", "u1", "r.example/team/app:1.0", &[]),
            "r.example/team/app",
        );
        assert!(granted.is_empty(), "{granted:?}");
    }

    #[test]
    fn a_job_that_is_not_the_owner_or_pulls_another_image_grants_nothing() {
        let node = node_image_with("team", json!([]));
        let owner = task_owners(&node, "r.example/team/app")
            .unwrap()
            .pop_first()
            .unwrap();
        let recreated = job("team", "u2", "r.example/team/app:1.0", &["regcred"]);
        let other_image = job("team", "u1", "r.example/team/other:1.0", &["regcred"]);
        let other_tag = job("team", "u1", "r.example/team/app:2.0", &["regcred"]);
        let other_namespace = job("kube-system", "u1", "r.example/team/app:1.0", &["regcred"]);
        for job in [recreated, other_image, other_tag, other_namespace] {
            assert!(
                granted_by(&owner, &job, "r.example/team/app").is_empty(),
                "{job:?}"
            );
        }
        assert_eq!(task_owners(&node, "r.example/team/none"), None);
    }
}
