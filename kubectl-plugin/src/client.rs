//! The cluster connection (kubeconfig, context, namespace as kubectl picks them) and reads of
//! Prepull's kinds.

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use prepull_api::{ImageListPullJob, ImagePullJob, ImagePullJobList, NodeImageList};
use serde::de::DeserializeOwned;

use crate::cli::Connection;

/// The API version read (served by every Prepull and OpenKruise install).
const API: &str = "/apis/apps.kruise.io/v1alpha1";

/// A connected client and the namespace jobs are looked up in.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    pub namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Which kind a JOB argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobName {
    /// A bare name: an ImagePullJob, else an ImageListPullJob.
    Either(String),
    Pull(String),
    ListPull(String),
}

impl JobName {
    /// `NAME`, `imagepulljob/NAME` or `imagelistpulljob/NAME` (kubectl's kind/name forms).
    pub fn parse(text: &str) -> Result<JobName> {
        let (kind, name) = match text.split_once('/') {
            Some((kind, name)) => (Some(kind.to_ascii_lowercase()), name),
            None => (None, text),
        };
        if name.is_empty() || name.len() > 253 || name.contains('/') {
            bail!("{text:?} is not a job name (NAME, imagepulljob/NAME or imagelistpulljob/NAME)");
        }
        let name = name.to_string();
        Ok(match kind.as_deref() {
            None => JobName::Either(name),
            Some(
                "imagepulljob"
                | "imagepulljobs"
                | "imagepulljob.apps.kruise.io"
                | "imagepulljobs.apps.kruise.io",
            ) => JobName::Pull(name),
            Some(
                "imagelistpulljob"
                | "imagelistpulljobs"
                | "imagelistpulljob.apps.kruise.io"
                | "imagelistpulljobs.apps.kruise.io",
            ) => JobName::ListPull(name),
            Some(other) => {
                bail!(
                    "{other:?} is not a kind of job: use imagepulljob/NAME or imagelistpulljob/NAME"
                )
            }
        })
    }
}

/// A job as found.
#[derive(Debug, Clone)]
pub enum Job {
    Pull(Box<ImagePullJob>),
    /// The list job and its child ImagePullJobs (one per image).
    ListPull(Box<ImageListPullJob>, Vec<ImagePullJob>),
}

impl Cluster {
    /// Connects as kubectl would with these flags.
    pub async fn connect(connection: &Connection) -> Result<Cluster> {
        let kubeconfig = match &connection.kubeconfig {
            Some(path) => Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?,
            None => Kubeconfig::read()
                .context("reading the kubeconfig ($KUBECONFIG or ~/.kube/config)")?,
        };
        let options = KubeConfigOptions {
            context: connection.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .context("loading the kubeconfig context")?;
        let namespace = connection
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).context("building the client")?;
        Ok(Cluster { client, namespace })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, kube::Error> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .expect("a GET request with a valid path");
        self.client.request::<T>(request).await
    }

    /// Every NodeImage.
    pub async fn node_images(&self) -> Result<NodeImageList> {
        self.get(&format!("{API}/nodeimages"))
            .await
            .context("listing NodeImages")
    }

    /// The job `name` names, in the namespace.
    pub async fn job(&self, name: &JobName) -> Result<Job> {
        let ns = &self.namespace;
        let pull = |name: &str| format!("{API}/namespaces/{ns}/imagepulljobs/{name}");
        let list = |name: &str| format!("{API}/namespaces/{ns}/imagelistpulljobs/{name}");
        match name {
            JobName::Pull(name) => Ok(Job::Pull(Box::new(
                self.get(&pull(name))
                    .await
                    .with_context(|| format!("getting imagepulljob {ns}/{name}"))?,
            ))),
            JobName::ListPull(name) => self.list_job(&list(name), ns, name).await,
            JobName::Either(name) => {
                match self.get::<ImagePullJob>(&pull(name)).await {
                    Ok(job) => Ok(Job::Pull(Box::new(job))),
                    Err(kube::Error::Api(status)) if status.is_not_found() => {
                        match self.list_job(&list(name), ns, name).await {
                            Ok(job) => Ok(job),
                            Err(err) if is_not_found(&err) => bail!(
                                "no imagepulljob or imagelistpulljob {name:?} in namespace {ns:?}"
                            ),
                            Err(err) => Err(err),
                        }
                    }
                    Err(err) => Err(anyhow::Error::new(err)
                        .context(format!("getting imagepulljob {ns}/{name}"))),
                }
            }
        }
    }

    async fn list_job(&self, path: &str, ns: &str, name: &str) -> Result<Job> {
        let job: ImageListPullJob = self
            .get(path)
            .await
            .with_context(|| format!("getting imagelistpulljob {ns}/{name}"))?;
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let children: ImagePullJobList = self
            .get(&format!("{API}/namespaces/{ns}/imagepulljobs"))
            .await
            .with_context(|| format!("listing imagepulljobs in {ns}"))?;
        let children = children
            .items
            .into_iter()
            .filter(|child| {
                child
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|owner| owner.uid == uid)
            })
            .collect();
        Ok(Job::ListPull(Box::new(job), children))
    }
}

fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<kube::Error>(),
            Some(kube::Error::Api(status)) if status.is_not_found()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::JobName;

    #[test]
    fn job_arguments_name_a_kind_or_either() {
        assert_eq!(JobName::parse("a").unwrap(), JobName::Either("a".into()));
        assert_eq!(
            JobName::parse("imagepulljob/a").unwrap(),
            JobName::Pull("a".into())
        );
        assert_eq!(
            JobName::parse("ImageListPullJobs.apps.kruise.io/a").unwrap(),
            JobName::ListPull("a".into())
        );
        for bad in ["", "pods/a", "imagepulljob/", "a/b/c"] {
            assert!(JobName::parse(bad).is_err(), "{bad}");
        }
    }
}
