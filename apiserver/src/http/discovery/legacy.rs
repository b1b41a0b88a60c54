//! The unaggregated discovery documents (`metav1` APIVersions, APIGroupList, APIGroup,
//! APIResourceList): what clients get when they do not ask for aggregated discovery, and what
//! kube-aggregator falls back to for each group-version.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prepull_api::group::{ApiVersion, GROUP, Kind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{RESOURCE_VERBS, STATUS_VERBS};

/// `/api`: the legacy core group, which we do not serve. No versions: client-go then treats
/// the core group as absent.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": [],
        "serverAddressByClientCIDRs": [],
    })
}

/// `/apis`: our one group.
pub fn group_list() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group_body()],
    })
}

/// `/apis/apps.kruise.io`.
pub fn group() -> Value {
    let mut group = group_body();
    group["kind"] = "APIGroup".into();
    group["apiVersion"] = "v1".into();
    group
}

fn group_body() -> Value {
    let version = |v: ApiVersion| json!({"groupVersion": v.api_version(), "version": v.as_str()});
    json!({
        "name": GROUP,
        "versions": ApiVersion::ALL.map(version),
        "preferredVersion": version(ApiVersion::PREFERRED),
    })
}

/// `/apis/apps.kruise.io/<version>`: every kind and its subresources.
pub fn resource_list(version: ApiVersion) -> Value {
    let mut resources = Vec::new();
    for kind in Kind::ALL {
        let info = kind.info();
        resources.push(json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.name,
            "verbs": RESOURCE_VERBS,
            "shortNames": info.short_names,
            "categories": info.categories,
            "storageVersionHash": storage_version_hash(kind),
        }));
        for subresource in info.subresources {
            resources.push(json!({
                "name": format!("{}/{subresource}", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.name,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": version.api_version(),
        "resources": resources,
    })
}

/// kube-apiserver's storage version hash: base64 of the first 8 bytes of the SHA-256 of
/// `group/version/kind` of the version objects are stored in. It changes only when the
/// storage version does, which is what the storage version migrator watches for; objects are
/// stored in the preferred version whichever version served them.
pub fn storage_version_hash(kind: Kind) -> String {
    let gvk = format!(
        "{}/{}",
        ApiVersion::PREFERRED.api_version(),
        kind.info().name
    );
    STANDARD.encode(&Sha256::digest(gvk.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_prefers_v1alpha1_and_lists_both_versions() {
        let group = group();
        assert_eq!(group["kind"], "APIGroup");
        assert_eq!(
            group["preferredVersion"],
            json!({"groupVersion": "apps.kruise.io/v1alpha1", "version": "v1alpha1"})
        );
        assert_eq!(
            group["versions"][1]["groupVersion"],
            "apps.kruise.io/v1beta1"
        );
        assert_eq!(group_list()["groups"][0]["name"], GROUP);
    }

    #[test]
    fn every_kind_is_listed_with_its_status_subresource() {
        let list = resource_list(ApiVersion::V1beta1);
        assert_eq!(list["groupVersion"], "apps.kruise.io/v1beta1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "imagepulljobs",
                "imagepulljobs/status",
                "imagelistpulljobs",
                "imagelistpulljobs/status",
                "nodeimages",
                "nodeimages/status"
            ]
        );
        let node_images = &list["resources"][4];
        assert_eq!(node_images["namespaced"], false);
        assert_eq!(node_images["shortNames"], json!(["ni"]));
        assert_eq!(node_images["categories"], json!(["kruise"]));
        assert_eq!(
            list["resources"][5]["verbs"],
            json!(["get", "patch", "update"])
        );
    }

    #[test]
    fn the_storage_version_hash_is_eight_bytes_of_base64_and_differs_per_kind() {
        let hashes: Vec<String> = Kind::ALL.into_iter().map(storage_version_hash).collect();
        for hash in &hashes {
            assert_eq!(STANDARD.decode(hash).unwrap().len(), 8);
        }
        assert_ne!(hashes[0], hashes[1]);
        assert_eq!(hashes[0], storage_version_hash(Kind::ImagePullJob));
    }
}
