//! An APIService owns a whole group-version: where CustomResourceDefinitions already serve
//! `apps.kruise.io` v1alpha1 or v1beta1 (OpenKruise installed with its CRDs), registering this
//! server would hide them (or be hidden). Startup refuses instead, naming the CRDs.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::ListParams;
use prepull_api::GROUP;

/// Deadline of the CRD list.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// The group-versions this server serves.
pub const SERVED_VERSIONS: &[&str] = &["v1alpha1", "v1beta1"];

/// Why startup stops.
#[derive(Debug, thiserror::Error)]
pub enum CrdConflictError {
    #[error(
        "CustomResourceDefinitions already serve {GROUP} {versions} in this cluster: {crds}. An APIService for the same group-version would shadow them (or be shadowed). Remove them (uninstall OpenKruise's CRDs) or use another cluster; Prepull refuses to start"
    )]
    Conflict { crds: String, versions: String },
    #[error("listing CustomResourceDefinitions to check for {GROUP} conflicts: {0}")]
    List(String),
}

/// Fails when any CRD of group `apps.kruise.io` serves one of [`SERVED_VERSIONS`].
pub async fn refuse_if_crds_own_our_versions(client: kube::Client) -> Result<(), CrdConflictError> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let list = tokio::time::timeout(LIST_TIMEOUT, api.list(&ListParams::default()))
        .await
        .map_err(|_| CrdConflictError::List(format!("no answer within {LIST_TIMEOUT:?}")))?
        .map_err(|err| CrdConflictError::List(err.to_string()))?;
    let conflicts = conflicting(&list.items);
    if conflicts.is_empty() {
        return Ok(());
    }
    let mut versions: Vec<&str> = conflicts.iter().flat_map(|(_, v)| v.clone()).collect();
    versions.sort_unstable();
    versions.dedup();
    Err(CrdConflictError::Conflict {
        crds: conflicts
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        versions: versions.join(", "),
    })
}

/// The CRDs (name, conflicting versions) among `crds` that serve our group-versions.
fn conflicting(crds: &[CustomResourceDefinition]) -> Vec<(String, Vec<&'static str>)> {
    crds.iter()
        .filter(|crd| crd.spec.group == GROUP)
        .filter_map(|crd| {
            let versions: Vec<&'static str> = SERVED_VERSIONS
                .iter()
                .copied()
                .filter(|ours| {
                    crd.spec
                        .versions
                        .iter()
                        .any(|v| v.name == *ours && v.served)
                })
                .collect();
            (!versions.is_empty())
                .then(|| (crd.metadata.name.clone().unwrap_or_default(), versions))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str, group: &str, versions: &[(&str, bool)]) -> CustomResourceDefinition {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "names": {"plural": "x", "kind": "X"},
                "scope": "Namespaced",
                "versions": versions.iter().map(|(v, served)| serde_json::json!({
                    "name": v, "served": served, "storage": true
                })).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    #[test]
    fn only_served_versions_of_our_group_conflict() {
        let crds = [
            crd(
                "clonesets.apps.kruise.io",
                "apps.kruise.io",
                &[("v1alpha1", true)],
            ),
            crd(
                "widgets.apps.kruise.io",
                "apps.kruise.io",
                &[("v1", true), ("v1beta1", false)],
            ),
            crd("imagepulljobs.other.io", "other.io", &[("v1alpha1", true)]),
        ];
        assert_eq!(
            conflicting(&crds),
            [("clonesets.apps.kruise.io".to_string(), vec!["v1alpha1"])]
        );
    }
}
