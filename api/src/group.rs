//! The `apps.kruise.io` API group: its versions, its three kinds and their REST names.
//!
//! The API server iterates over [`Kind::ALL`] to register resources and build discovery;
//! each kind's Rust type implements [`kube_core::Resource`] (through [`KruiseResource`]) so
//! `kube::Api<ImagePullJob>` works against our server or a real OpenKruise installation.

use std::fmt;

/// API group of every kind in this crate.
pub const GROUP: &str = "apps.kruise.io";

/// Served versions, preferred first. Both have the same JSON shape; see [`crate::versions`].
pub const VERSIONS: [&str; 2] = ["v1alpha1", "v1beta1"];

/// Categories every kind belongs to (`kubectl get kruise`). Ours; OpenKruise has none.
pub const CATEGORIES: &[&str] = &["kruise"];

/// A served version of [`GROUP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// `v1alpha1`, the preferred version (all user documentation uses it).
    V1alpha1,
    /// `v1beta1`: same shape, plus `mode` on NodeImage pull-secret references.
    V1beta1,
}

impl ApiVersion {
    /// All served versions, preferred first (same order as [`VERSIONS`]).
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V1alpha1, ApiVersion::V1beta1];

    /// The version clients get when they do not ask for one.
    pub const PREFERRED: ApiVersion = ApiVersion::V1alpha1;

    /// The version name, e.g. `v1alpha1`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => "v1alpha1",
            ApiVersion::V1beta1 => "v1beta1",
        }
    }

    /// The `apiVersion` field value, e.g. `apps.kruise.io/v1alpha1`.
    pub fn api_version(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => "apps.kruise.io/v1alpha1",
            ApiVersion::V1beta1 => "apps.kruise.io/v1beta1",
        }
    }

    /// Parses a bare version name (`v1beta1`); `None` if it is not served.
    pub fn from_version(version: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == version)
    }

    /// Parses an `apiVersion` field value (`apps.kruise.io/v1beta1`); `None` for other groups
    /// or unserved versions.
    pub fn from_api_version(api_version: &str) -> Option<ApiVersion> {
        ApiVersion::ALL
            .into_iter()
            .find(|v| v.api_version() == api_version)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the three kinds this crate defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// [`crate::ImagePullJob`]: pull one image on a set of nodes.
    ImagePullJob,
    /// [`crate::ImageListPullJob`]: pull several images, one child ImagePullJob each.
    ImageListPullJob,
    /// [`crate::NodeImage`]: the per-node list of images to pull and their status.
    NodeImage,
}

/// REST and discovery names of a kind, as served by the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// Which kind this describes.
    pub kind: Kind,
    /// `kind` field value, e.g. `ImagePullJob`.
    pub name: &'static str,
    /// `kind` of its list, e.g. `ImagePullJobList`.
    pub list_name: &'static str,
    /// Resource (URL) name, e.g. `imagepulljobs`.
    pub plural: &'static str,
    /// Lower-case singular name, e.g. `imagepulljob`.
    pub singular: &'static str,
    /// `kubectl` short names, e.g. `ipj`. Ours; OpenKruise has none.
    pub short_names: &'static [&'static str],
    /// Namespaced (`true`) or cluster-scoped (`false`).
    pub namespaced: bool,
    /// Discovery categories, see [`CATEGORIES`].
    pub categories: &'static [&'static str],
    /// Subresources served besides the main resource.
    pub subresources: &'static [&'static str],
}

const IMAGE_PULL_JOB: KindInfo = KindInfo {
    kind: Kind::ImagePullJob,
    name: "ImagePullJob",
    list_name: "ImagePullJobList",
    plural: "imagepulljobs",
    singular: "imagepulljob",
    short_names: &["ipj"],
    namespaced: true,
    categories: CATEGORIES,
    subresources: &["status"],
};

const IMAGE_LIST_PULL_JOB: KindInfo = KindInfo {
    kind: Kind::ImageListPullJob,
    name: "ImageListPullJob",
    list_name: "ImageListPullJobList",
    plural: "imagelistpulljobs",
    singular: "imagelistpulljob",
    short_names: &["ilpj"],
    namespaced: true,
    categories: CATEGORIES,
    subresources: &["status"],
};

const NODE_IMAGE: KindInfo = KindInfo {
    kind: Kind::NodeImage,
    name: "NodeImage",
    list_name: "NodeImageList",
    plural: "nodeimages",
    singular: "nodeimage",
    short_names: &["ni"],
    namespaced: false,
    categories: CATEGORIES,
    subresources: &["status"],
};

impl Kind {
    /// Every kind, in the order discovery lists them.
    pub const ALL: [Kind; 3] = [Kind::ImagePullJob, Kind::ImageListPullJob, Kind::NodeImage];

    /// Names and scope of this kind.
    pub fn info(self) -> &'static KindInfo {
        match self {
            Kind::ImagePullJob => &IMAGE_PULL_JOB,
            Kind::ImageListPullJob => &IMAGE_LIST_PULL_JOB,
            Kind::NodeImage => &NODE_IMAGE,
        }
    }

    /// The `kind` field value, e.g. `NodeImage`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Looks a kind up by its `kind` field value.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.info().name == name)
    }

    /// Looks a kind up by its resource (plural) name, as it appears in URLs.
    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.info().plural == plural)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A top-level object of this group: knows its [`Kind`] and implements
/// [`kube_core::Resource`] with `DynamicType = ()` and the preferred version.
pub trait KruiseResource:
    kube_core::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned + Clone
{
    /// Which kind this type is.
    const KIND: Kind;

    /// The `apiVersion` field as sent or stored (may be empty on objects built in code).
    fn api_version_field(&self) -> &str;

    /// Sets `apiVersion` and `kind` for presenting the object in `version`.
    fn set_type_meta(&mut self, version: ApiVersion);
}

/// Implements [`kube_core::Resource`] and [`KruiseResource`] for a kind struct with
/// `api_version`, `kind` and `metadata` fields.
macro_rules! impl_kruise_resource {
    ($ty:ident, $scope:ty) => {
        impl kube_core::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                $crate::group::Kind::$ty.info().name.into()
            }

            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                $crate::group::GROUP.into()
            }

            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                $crate::group::ApiVersion::PREFERRED.as_str().into()
            }

            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                $crate::group::Kind::$ty.info().plural.into()
            }

            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }

            fn meta_mut(
                &mut self,
            ) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }

        impl $crate::group::KruiseResource for $ty {
            const KIND: $crate::group::Kind = $crate::group::Kind::$ty;

            fn api_version_field(&self) -> &str {
                &self.api_version
            }

            fn set_type_meta(&mut self, version: $crate::group::ApiVersion) {
                self.api_version = version.api_version().to_owned();
                self.kind = $crate::group::Kind::$ty.info().name.to_owned();
            }
        }
    };
}

pub(crate) use impl_kruise_resource;
