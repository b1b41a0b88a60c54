//! The kinds are Kubernetes resources kube-rs can address: group, version, plural, scope, and
//! the discovery names the API server publishes.

use kube_core::Resource;

use prepull_api::group::CATEGORIES;
use prepull_api::{
    ApiVersion, GROUP, ImageListPullJob, ImagePullJob, Kind, KruiseResource, NodeImage, VERSIONS,
};

#[test]
fn kube_resource_urls_are_namespaced_for_jobs_and_cluster_wide_for_node_images() {
    assert_eq!(
        ImagePullJob::url_path(&(), Some("default")),
        "/apis/apps.kruise.io/v1alpha1/namespaces/default/imagepulljobs"
    );
    assert_eq!(
        ImageListPullJob::url_path(&(), Some("ns")),
        "/apis/apps.kruise.io/v1alpha1/namespaces/ns/imagelistpulljobs"
    );
    assert_eq!(
        NodeImage::url_path(&(), None),
        "/apis/apps.kruise.io/v1alpha1/nodeimages"
    );
    assert_eq!(ImagePullJob::api_version(&()), "apps.kruise.io/v1alpha1");
    assert_eq!(NodeImage::kind(&()), "NodeImage");
}

#[test]
fn the_group_serves_v1alpha1_first_and_v1beta1() {
    assert_eq!(GROUP, "apps.kruise.io");
    assert_eq!(VERSIONS, ["v1alpha1", "v1beta1"]);
    assert_eq!(ApiVersion::PREFERRED, ApiVersion::V1alpha1);
    assert_eq!(
        ApiVersion::from_api_version("apps.kruise.io/v1beta1"),
        Some(ApiVersion::V1beta1)
    );
    assert_eq!(ApiVersion::from_api_version("apps/v1"), None);
    assert_eq!(ApiVersion::from_version("v1"), None);
}

#[test]
fn each_kind_has_its_discovery_names() {
    let names: Vec<_> = Kind::ALL
        .iter()
        .map(|k| {
            let i = k.info();
            (
                i.name,
                i.list_name,
                i.plural,
                i.singular,
                i.short_names,
                i.namespaced,
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "ImagePullJob",
                "ImagePullJobList",
                "imagepulljobs",
                "imagepulljob",
                &["ipj"][..],
                true
            ),
            (
                "ImageListPullJob",
                "ImageListPullJobList",
                "imagelistpulljobs",
                "imagelistpulljob",
                &["ilpj"][..],
                true
            ),
            (
                "NodeImage",
                "NodeImageList",
                "nodeimages",
                "nodeimage",
                &["ni"][..],
                false
            ),
        ]
    );
    for kind in Kind::ALL {
        assert_eq!(kind.info().categories, CATEGORIES);
        assert_eq!(kind.info().subresources, ["status"]);
        assert_eq!(Kind::from_plural(kind.info().plural), Some(kind));
        assert_eq!(Kind::from_name(kind.name()), Some(kind));
    }
    assert_eq!(CATEGORIES, ["kruise"]);
}

#[test]
fn type_meta_follows_the_requested_version() {
    let mut job = ImagePullJob::new("a", Default::default());
    assert_eq!(job.api_version_field(), "apps.kruise.io/v1alpha1");
    job.set_type_meta(ApiVersion::V1beta1);
    assert_eq!(
        (job.api_version.as_str(), job.kind.as_str()),
        ("apps.kruise.io/v1beta1", "ImagePullJob")
    );
    assert_eq!(<NodeImage as KruiseResource>::KIND, Kind::NodeImage);
}

/// The bounds `kube::Api::<K>::namespaced` / `::all` put on `K`; this compiles only if the
/// kinds satisfy them.
fn usable_with_kube_api<K, S>()
where
    K: Resource<DynamicType = (), Scope = S>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
{
}

#[test]
fn the_kinds_meet_kube_api_bounds_with_their_scopes() {
    usable_with_kube_api::<ImagePullJob, k8s_openapi::NamespaceResourceScope>();
    usable_with_kube_api::<ImageListPullJob, k8s_openapi::NamespaceResourceScope>();
    usable_with_kube_api::<NodeImage, k8s_openapi::ClusterResourceScope>();
    assert!(!ImagePullJob::metadata_api());
}
