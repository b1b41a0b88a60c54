//! The REST operations of one served version, derived from [`Kind::ALL`], independent of how
//! OpenAPI v2 or v3 spells them ([`super::v2`], [`super::v3`] render this model).
//!
//! The surface is what kube-apiserver publishes for a custom resource with a status
//! subresource: collection (list, create, deletecollection; plus a cross-namespace list for
//! namespaced kinds), object (read, replace, patch, delete) and `status` (read, replace, patch).
//! Operation ids follow kube-apiserver's scheme (`listAppsKruiseIoV1alpha1NamespacedImagePullJob`).

use prepull_api::group::{ApiVersion, GROUP, Kind};
use prepull_api::schema::{definition_name, list_definition_name};

use super::meta_schemas::{DELETE_OPTIONS, PATCH, STATUS};
use super::parameters::{self, QueryParam};

/// Request body media types of create and replace.
pub const BODY_CONTENT_TYPES: &[&str] = &["application/json", "application/yaml"];
/// Response media types.
pub const RESPONSE_CONTENT_TYPES: &[&str] = &["application/json", "application/yaml"];

/// What an operation does, as `x-kubernetes-action` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Get,
    List,
    Post,
    Put,
    Patch,
    Delete,
    DeleteCollection,
}

impl Action {
    /// The `x-kubernetes-action` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::List => "list",
            Action::Post => "post",
            Action::Put => "put",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::DeleteCollection => "deletecollection",
        }
    }

    /// The HTTP method, lower-case as OpenAPI path items key it.
    pub fn method(self) -> &'static str {
        match self {
            Action::Get | Action::List => "get",
            Action::Post => "post",
            Action::Put => "put",
            Action::Patch => "patch",
            Action::Delete | Action::DeleteCollection => "delete",
        }
    }

    /// The verb starting the operation id.
    fn id_verb(self) -> &'static str {
        match self {
            Action::Get => "read",
            Action::List => "list",
            Action::Post => "create",
            Action::Put => "replace",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::DeleteCollection => "deletecollection",
        }
    }
}

/// A request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub content_types: &'static [&'static str],
    /// Definition name of its schema.
    pub schema: String,
    pub required: bool,
}

/// One possible response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub description: &'static str,
    /// Definition name of its schema.
    pub schema: String,
}

/// One operation on a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub action: Action,
    pub id: String,
    pub description: String,
    pub query: &'static [QueryParam],
    pub body: Option<Body>,
    pub responses: Vec<Response>,
}

/// A path and its operations, all about one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathItem {
    pub path: String,
    pub kind: Kind,
    /// The path has a `{namespace}` segment.
    pub namespace_param: bool,
    /// The path has a `{name}` segment.
    pub name_param: bool,
    pub operations: Vec<Operation>,
}

/// The tag grouping a version's operations, e.g. `appsKruiseIo_v1alpha1`.
pub fn tag(version: ApiVersion) -> String {
    let group = id_part(GROUP);
    let mut tag = group[..1].to_ascii_lowercase();
    tag.push_str(&group[1..]);
    format!("{tag}_{}", version.as_str())
}

/// Every path of `version`, in a stable order.
pub fn paths(version: ApiVersion) -> Vec<PathItem> {
    Kind::ALL
        .into_iter()
        .flat_map(|kind| kind_paths(kind, version))
        .collect()
}

fn kind_paths(kind: Kind, version: ApiVersion) -> Vec<PathItem> {
    let info = kind.info();
    let builder = Builder { kind, version };
    let base = format!("/apis/{GROUP}/{}", version.as_str());
    let mut items = Vec::new();
    let collection = if info.namespaced {
        items.push(PathItem {
            path: format!("{base}/{}", info.plural),
            kind,
            namespace_param: false,
            name_param: false,
            operations: vec![builder.list(true)],
        });
        format!("{base}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("{base}/{}", info.plural)
    };
    let path_item = |path: String, name_param: bool, operations: Vec<Operation>| PathItem {
        path,
        kind,
        namespace_param: info.namespaced,
        name_param,
        operations,
    };
    items.push(path_item(
        collection.clone(),
        false,
        vec![
            builder.list(false),
            builder.create(),
            builder.delete_collection(),
        ],
    ));
    items.push(path_item(
        format!("{collection}/{{name}}"),
        true,
        vec![
            builder.read(""),
            builder.replace(""),
            builder.delete(),
            builder.patch(""),
        ],
    ));
    for subresource in info.subresources {
        items.push(path_item(
            format!("{collection}/{{name}}/{subresource}"),
            true,
            vec![
                builder.read(subresource),
                builder.replace(subresource),
                builder.patch(subresource),
            ],
        ));
    }
    items
}

struct Builder {
    kind: Kind,
    version: ApiVersion,
}

impl Builder {
    fn object(&self) -> String {
        definition_name(self.kind, self.version)
    }

    /// `listAppsKruiseIoV1alpha1NamespacedImagePullJobStatus` and the like.
    fn id(&self, action: Action, subresource: &str, all_namespaces: bool) -> String {
        let info = self.kind.info();
        let scope = if info.namespaced && !all_namespaces {
            "Namespaced"
        } else {
            ""
        };
        let suffix = if all_namespaces {
            "ForAllNamespaces"
        } else {
            ""
        };
        format!(
            "{}{}{}{scope}{}{}{suffix}",
            action.id_verb(),
            id_part(GROUP),
            id_part(self.version.as_str()),
            info.name,
            id_part(subresource),
        )
    }

    fn operation(
        &self,
        action: Action,
        subresource: &str,
        description: String,
        query: &'static [QueryParam],
        body: Option<Body>,
        responses: Vec<Response>,
    ) -> Operation {
        Operation {
            action,
            id: self.id(action, subresource, false),
            description,
            query,
            body,
            responses,
        }
    }

    fn list(&self, all_namespaces: bool) -> Operation {
        let name = self.kind.info().name;
        Operation {
            action: Action::List,
            id: self.id(Action::List, "", all_namespaces),
            description: format!("list or watch objects of kind {name}"),
            query: parameters::LIST,
            body: None,
            responses: vec![ok(list_definition_name(self.kind, self.version))],
        }
    }

    fn create(&self) -> Operation {
        let object = self.object();
        self.operation(
            Action::Post,
            "",
            format!("create {}", with_article(self.kind.info().name)),
            parameters::WRITE,
            Some(Body {
                content_types: BODY_CONTENT_TYPES,
                schema: object.clone(),
                required: true,
            }),
            vec![
                ok(object.clone()),
                response(201, "Created", object.clone()),
                response(202, "Accepted", object),
            ],
        )
    }

    fn delete_collection(&self) -> Operation {
        self.operation(
            Action::DeleteCollection,
            "",
            format!("delete collection of {}", self.kind.info().name),
            parameters::DELETE_COLLECTION,
            Some(delete_options_body()),
            vec![ok(STATUS.to_string())],
        )
    }

    fn read(&self, subresource: &str) -> Operation {
        self.operation(
            Action::Get,
            subresource,
            format!(
                "read {}the specified {}",
                of(subresource),
                self.kind.info().name
            ),
            parameters::GET,
            None,
            vec![ok(self.object())],
        )
    }

    fn replace(&self, subresource: &str) -> Operation {
        let object = self.object();
        self.operation(
            Action::Put,
            subresource,
            format!(
                "replace {}the specified {}",
                of(subresource),
                self.kind.info().name
            ),
            parameters::WRITE,
            Some(Body {
                content_types: BODY_CONTENT_TYPES,
                schema: object.clone(),
                required: true,
            }),
            vec![ok(object.clone()), response(201, "Created", object)],
        )
    }

    fn patch(&self, subresource: &str) -> Operation {
        self.operation(
            Action::Patch,
            subresource,
            format!(
                "partially update {}the specified {}",
                of(subresource),
                self.kind.info().name
            ),
            parameters::PATCH,
            Some(Body {
                content_types: super::patch_content_types(self.kind),
                schema: PATCH.to_string(),
                required: true,
            }),
            vec![ok(self.object())],
        )
    }

    fn delete(&self) -> Operation {
        self.operation(
            Action::Delete,
            "",
            format!("delete {}", with_article(self.kind.info().name)),
            parameters::DELETE,
            Some(delete_options_body()),
            vec![
                ok(STATUS.to_string()),
                response(202, "Accepted", STATUS.to_string()),
            ],
        )
    }
}

fn delete_options_body() -> Body {
    Body {
        content_types: BODY_CONTENT_TYPES,
        schema: DELETE_OPTIONS.to_string(),
        required: false,
    }
}

fn ok(schema: String) -> Response {
    response(200, "OK", schema)
}

fn response(code: u16, description: &'static str, schema: String) -> Response {
    Response {
        code,
        description,
        schema,
    }
}

fn of(subresource: &str) -> String {
    if subresource.is_empty() {
        String::new()
    } else {
        format!("{subresource} of ")
    }
}

fn with_article(noun: &str) -> String {
    let vowel = noun
        .chars()
        .next()
        .is_some_and(|c| "AEIOUaeiou".contains(c));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// `apps.kruise.io` -> `AppsKruiseIo`, `v1alpha1` -> `V1alpha1`, `status` -> `Status`.
fn id_part(text: &str) -> String {
    text.split(['.', '-'])
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespaced_kind_has_a_cross_namespace_list_and_three_namespaced_paths() {
        let paths: Vec<PathItem> = kind_paths(Kind::ImagePullJob, ApiVersion::V1alpha1);
        let names: Vec<&str> = paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "/apis/apps.kruise.io/v1alpha1/imagepulljobs",
                "/apis/apps.kruise.io/v1alpha1/namespaces/{namespace}/imagepulljobs",
                "/apis/apps.kruise.io/v1alpha1/namespaces/{namespace}/imagepulljobs/{name}",
                "/apis/apps.kruise.io/v1alpha1/namespaces/{namespace}/imagepulljobs/{name}/status",
            ]
        );
        assert_eq!(
            paths[0].operations[0].id,
            "listAppsKruiseIoV1alpha1ImagePullJobForAllNamespaces"
        );
        assert_eq!(
            paths[3].operations[2].id,
            "patchAppsKruiseIoV1alpha1NamespacedImagePullJobStatus"
        );
        assert_eq!(paths[1].operations[1].description, "create an ImagePullJob");
    }

    #[test]
    fn a_cluster_scoped_kind_has_no_namespace_segment() {
        let paths = kind_paths(Kind::NodeImage, ApiVersion::V1beta1);
        assert_eq!(paths.len(), 3);
        assert!(paths.iter().all(|p| !p.namespace_param));
        assert_eq!(paths[0].path, "/apis/apps.kruise.io/v1beta1/nodeimages");
        assert_eq!(
            paths[1].operations[0].id,
            "readAppsKruiseIoV1beta1NodeImage"
        );
    }

    #[test]
    fn the_tag_is_the_lower_camel_group_and_version() {
        assert_eq!(tag(ApiVersion::V1beta1), "appsKruiseIo_v1beta1");
    }
}
