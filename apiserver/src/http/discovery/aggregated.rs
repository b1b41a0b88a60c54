//! Aggregated discovery (`apidiscovery.k8s.io` APIGroupDiscoveryList): every group, version and
//! resource in one document, which client-go (kubectl >= 1.26) and kube-aggregator fetch from
//! `/apis` instead of one request per group-version.

use prepull_api::group::{ApiVersion, GROUP, Kind};
use serde_json::{Value, json};

use super::{RESOURCE_VERBS, STATUS_VERBS};

/// A version of the aggregated discovery API a client may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryVersion {
    /// `apidiscovery.k8s.io/v2`, GA since Kubernetes 1.30.
    V2,
    /// `apidiscovery.k8s.io/v2beta1`, which client-go 1.26-1.32 also accepts. Same shape.
    V2beta1,
}

impl DiscoveryVersion {
    /// The `v` media type parameter and version name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoveryVersion::V2 => "v2",
            DiscoveryVersion::V2beta1 => "v2beta1",
        }
    }

    /// Parses the `v` media type parameter.
    pub fn from_param(version: &str) -> Option<DiscoveryVersion> {
        match version {
            "v2" => Some(DiscoveryVersion::V2),
            "v2beta1" => Some(DiscoveryVersion::V2beta1),
            _ => None,
        }
    }

    /// The response `Content-Type`. client-go compares its `g`, `v` and `as` parameters to
    /// decide how to decode the body, so it must name the list kind.
    pub fn content_type(self) -> String {
        format!(
            "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
            self.as_str()
        )
    }
}

/// `/apis` in aggregated form: our group with both versions, preferred first.
pub fn apis(version: DiscoveryVersion) -> Value {
    let versions: Vec<Value> = ApiVersion::ALL.into_iter().map(version_discovery).collect();
    list(
        version,
        vec![json!({
            "metadata": {"name": GROUP},
            "versions": versions,
        })],
    )
}

/// `/api` in aggregated form: no core group here.
pub fn api(version: DiscoveryVersion) -> Value {
    list(version, Vec::new())
}

fn list(version: DiscoveryVersion, items: Vec<Value>) -> Value {
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{}", version.as_str()),
        "metadata": {},
        "items": items,
    })
}

fn version_discovery(version: ApiVersion) -> Value {
    let resources: Vec<Value> = Kind::ALL
        .into_iter()
        .map(|kind| resource_discovery(kind, version))
        .collect();
    json!({
        "version": version.as_str(),
        "resources": resources,
        "freshness": "Current",
    })
}

fn resource_discovery(kind: Kind, version: ApiVersion) -> Value {
    let info = kind.info();
    // client-go drops resources and subresources without a responseKind.
    let response_kind = json!({"group": GROUP, "version": version.as_str(), "kind": info.name});
    let subresources: Vec<Value> = info
        .subresources
        .iter()
        .map(|subresource| {
            json!({
                "subresource": subresource,
                "responseKind": response_kind,
                "verbs": STATUS_VERBS,
            })
        })
        .collect();
    json!({
        "resource": info.plural,
        "responseKind": response_kind,
        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": info.singular,
        "verbs": RESOURCE_VERBS,
        "shortNames": info.short_names,
        "categories": info.categories,
        "subresources": subresources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_and_subresource_carries_a_response_kind() {
        let apis = apis(DiscoveryVersion::V2);
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
        let versions = apis["items"][0]["versions"].as_array().unwrap();
        assert_eq!(versions[0]["version"], "v1alpha1");
        assert_eq!(versions[1]["version"], "v1beta1");
        for version in versions {
            assert_eq!(version["freshness"], "Current");
            let resources = version["resources"].as_array().unwrap();
            assert_eq!(resources.len(), Kind::ALL.len());
            for resource in resources {
                assert_eq!(resource["responseKind"]["version"], version["version"]);
                for subresource in resource["subresources"].as_array().unwrap() {
                    assert_eq!(subresource["responseKind"], resource["responseKind"]);
                }
            }
        }
        let node_images = &versions[0]["resources"][2];
        assert_eq!(node_images["resource"], "nodeimages");
        assert_eq!(node_images["scope"], "Cluster");
        assert_eq!(node_images["singularResource"], "nodeimage");
        assert_eq!(versions[0]["resources"][0]["scope"], "Namespaced");
    }

    #[test]
    fn the_core_list_is_empty_and_v2beta1_is_named_as_such() {
        let core = api(DiscoveryVersion::V2beta1);
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        assert_eq!(core["items"], json!([]));
        assert_eq!(
            DiscoveryVersion::V2.content_type(),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
    }
}
