//! Registering an aggregated API server that runs on this machine with a real kube-apiserver:
//! an `ExternalName` Service pointing at `localhost` (kube-apiserver then dials
//! `https://localhost:<port>` and verifies the serving certificate for
//! `<service>.<namespace>.svc` against the APIService's `caBundle`) and one APIService per
//! version.
//!
//! ```no_run
//! # async fn demo(kubectl: prepull_testbed::Kubectl, port: u16, ca_pem: String) -> anyhow::Result<()> {
//! use prepull_testbed::AggregatedApi;
//! let api = AggregatedApi {
//!     service: "prepull-apiserver".into(),
//!     namespace: "prepull-system".into(),
//!     group: "apps.kruise.io".into(),
//!     versions: vec!["v1alpha1".into(), "v1beta1".into()],
//!     port,
//!     ca_pem,
//! };
//! api.register(&kubectl).await?;
//! api.wait_available(&kubectl, std::time::Duration::from_secs(60)).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use serde_json::json;

use crate::kubectl::Kubectl;

/// An API server on `localhost:<port>` serving `group` at `versions` (first preferred).
#[derive(Clone, Debug)]
pub struct AggregatedApi {
    pub service: String,
    pub namespace: String,
    pub group: String,
    pub versions: Vec<String>,
    pub port: u16,
    /// The CA that signed the server's certificate (PEM), the APIServices' `caBundle`.
    pub ca_pem: String,
}

impl AggregatedApi {
    /// The APIService names, `<version>.<group>`.
    pub fn apiservice_names(&self) -> Vec<String> {
        self.versions
            .iter()
            .map(|v| format!("{v}.{}", self.group))
            .collect()
    }

    /// Creates (or updates) the namespace, the ExternalName Service and the APIServices.
    pub async fn register(&self, kubectl: &Kubectl) -> anyhow::Result<()> {
        let ca_bundle = base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes());
        let mut items = vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}),
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": self.service, "namespace": self.namespace},
                "spec": {
                    "type": "ExternalName",
                    "externalName": "localhost",
                    "ports": [{"name": "https", "port": self.port}],
                },
            }),
        ];
        let count = self.versions.len() as i64;
        for (index, version) in self.versions.iter().enumerate() {
            items.push(json!({
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": format!("{version}.{}", self.group)},
                "spec": {
                    "group": self.group,
                    "version": version,
                    "groupPriorityMinimum": 1000,
                    "versionPriority": 10 + count - index as i64,
                    "service": {"name": self.service, "namespace": self.namespace, "port": self.port},
                    "caBundle": ca_bundle,
                },
            }));
        }
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        kubectl
            .run_with_stdin(&["apply", "-f", "-"], Some(&list.to_string()))
            .await
            .context("registering the aggregated API")?;
        Ok(())
    }

    /// Waits until every APIService reports `Available` (kube-apiserver reached the server).
    pub async fn wait_available(&self, kubectl: &Kubectl, timeout: Duration) -> anyhow::Result<()> {
        let mut args = vec!["wait".to_string(), "--for=condition=Available".to_string()];
        args.extend(
            self.apiservice_names()
                .into_iter()
                .map(|name| format!("apiservice/{name}")),
        );
        args.push(format!("--timeout={}s", timeout.as_secs()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl
            .run(&args)
            .await
            .context("waiting for the APIServices to become Available")?;
        Ok(())
    }
}
