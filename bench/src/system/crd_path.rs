//! kube-apiserver (built from k8s.io/kubernetes by the test bed) with the three kinds installed
//! as CustomResourceDefinitions.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use prepull_api::{GROUP, Kind};
use prepull_testbed::{Etcd, KubeApiserver};
use serde_json::{Value, json};

use super::{Endpoint, System, start_etcd, wait_until_serving};
use crate::crd;
use crate::h2::Connection;
use crate::objects::NAMESPACE;

/// The CRD path, ready to serve the kinds.
#[derive(Debug)]
pub struct CrdPath {
    endpoint: Endpoint,
    // Dropped in this order: the server before its etcd.
    _apiserver: KubeApiserver,
    _etcd: Etcd,
}

impl CrdPath {
    /// Starts etcd and kube-apiserver, installs the CRDs, waits until they are established
    /// and served, and creates the benchmark namespace.
    pub async fn start() -> Result<CrdPath> {
        let (etcd, etcd_pid) = start_etcd().await?;
        let apiserver = KubeApiserver::start(&etcd).await?;
        let pid = apiserver.pid().context("kube-apiserver exited")?;
        let tls = (*apiserver.admin_tls_config()).clone();
        let port = apiserver.port();
        let connection = Connection::open(port, &tls).await?;
        for kind in Kind::ALL {
            connection
                .ok(
                    "POST",
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                    Some("application/json"),
                    Bytes::from(crd::definition(kind).to_string()),
                )
                .await
                .with_context(|| format!("creating the {} CRD", kind.name()))?;
        }
        for kind in Kind::ALL {
            wait_established(&connection, kind).await?;
        }
        wait_until_serving(port, &tls, &format!("/apis/{GROUP}/v1alpha1/nodeimages")).await?;
        connection
            .ok(
                "POST",
                "/api/v1/namespaces",
                Some("application/json"),
                Bytes::from(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
                        .to_string(),
                ),
            )
            .await?;
        wait_until_serving(
            port,
            &tls,
            &format!("/apis/{GROUP}/v1alpha1/namespaces/{NAMESPACE}/imagepulljobs"),
        )
        .await?;
        Ok(CrdPath {
            endpoint: Endpoint {
                name: "kube-apiserver + CRDs",
                port,
                tls,
                pid,
                etcd_pid,
            },
            _apiserver: apiserver,
            _etcd: etcd,
        })
    }
}

impl System for CrdPath {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Waits until the CRD of `kind` reports `Established` (and not a naming conflict).
async fn wait_established(connection: &Connection, kind: Kind) -> Result<()> {
    let path = format!(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{}.{GROUP}",
        kind.info().plural
    );
    for _ in 0..300 {
        let crd: Value =
            serde_json::from_slice(&connection.ok("GET", &path, None, Bytes::new()).await?)?;
        let conditions = crd["status"]["conditions"].as_array().cloned();
        let status = |type_: &str| {
            conditions
                .iter()
                .flatten()
                .find(|c| c["type"] == type_)
                .and_then(|c| c["status"].as_str().map(str::to_string))
        };
        if status("NamesAccepted").as_deref() == Some("False") {
            bail!("CRD {path} names not accepted: {crd}");
        }
        if status("Established").as_deref() == Some("True") {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("CRD {path} did not become Established")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{job, jobs_path, node_image, node_images_path};

    /// Creates `body` at `path` and returns what the server stored.
    async fn round_trip(connection: &Connection, path: &str, body: Bytes) -> (Value, Value) {
        let sent: Value = serde_json::from_slice(&body).unwrap();
        let stored = connection
            .ok("POST", path, Some("application/json"), body)
            .await
            .unwrap();
        (sent, serde_json::from_slice(&stored).unwrap())
    }

    #[tokio::test]
    async fn kube_apiserver_serves_the_benchmark_objects_unpruned_through_the_crds() {
        let system = CrdPath::start().await.unwrap();
        let connection = &system.endpoint().connect(1).await.unwrap()[0];

        let (sent, stored) =
            round_trip(connection, &node_images_path(), node_image(3, 4_000)).await;
        assert_eq!(
            stored["spec"], sent["spec"],
            "the CRD schema pruned NodeImage fields"
        );

        let (sent, stored) = round_trip(
            connection,
            &jobs_path(),
            Bytes::from(job("crd-check", 5, None).to_string()),
        )
        .await;
        assert_eq!(
            stored["spec"], sent["spec"],
            "the CRD schema pruned ImagePullJob fields"
        );

        let patched: Value = serde_json::from_slice(
            &connection
                .ok(
                    "PATCH",
                    &format!("{}/crd-check/status", jobs_path()),
                    Some("application/merge-patch+json"),
                    crate::objects::job_status_patch(7),
                )
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(patched["status"]["succeeded"], 7);
    }
}
