//! Resource handlers: every request under `/apis/apps.kruise.io/<version>/...` naming a
//! resource comes through [`dispatch`], which finds the kind and the verb and calls the
//! handler (reads in [`read`], writes in [`write`], deletes in [`delete`], watches in
//! [`watch`]). Results are presented by [`respond`].
//!
//! Paths and methods follow kube-apiserver's routes for a namespaced or cluster-scoped
//! resource with a `status` subresource: unknown groups, versions, resources, subresources
//! and scopes are 404; a known path with a method it does not serve is 405.

pub mod delete;
pub mod read;
pub mod respond;
pub mod watch;
pub mod write;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use prepull_api::{ApiVersion, GROUP, Kind};

use super::negotiate::{self, Endpoint, Output};
use super::query::{IncludeObject, Query};
use super::request_info::{RequestInfo, ResourceRequest};
use super::state::AppState;
use super::status::ApiError;
use crate::auth::UserInfo;
use crate::registry::{ResourceStore, Subresource};
use respond::Presenter;

/// What a resource request addresses, resolved against the kinds we serve.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: Kind,
    pub version: ApiVersion,
    /// `None` for cluster-scoped kinds and for lists across all namespaces.
    pub namespace: Option<String>,
    /// Empty for collection requests.
    pub name: String,
    pub subresource: Subresource,
}

impl Target {
    /// Resolves a parsed resource request; 404 when it names nothing we serve. List and watch
    /// requests address the collection even when `request.name` is set (from a
    /// `metadata.name` field selector, or a `/watch/.../<name>` path).
    pub fn resolve(request: &ResourceRequest) -> Result<Target, ApiError> {
        if request.group != GROUP {
            return Err(ApiError::path_not_found());
        }
        let version =
            ApiVersion::from_version(&request.version).ok_or_else(ApiError::path_not_found)?;
        let kind = Kind::from_plural(&request.resource).ok_or_else(ApiError::path_not_found)?;
        let subresource = match request.subresource.as_str() {
            "" => Subresource::Main,
            "status" => Subresource::Status,
            _ => return Err(ApiError::path_not_found()),
        };
        let name = if matches!(request.verb, "list" | "watch") {
            String::new()
        } else {
            request.name.clone()
        };
        let namespaced = kind.info().namespaced;
        let namespace = Some(request.namespace.clone()).filter(|ns| !ns.is_empty());
        // A cluster-scoped kind has no namespaced paths; a namespaced kind's objects are only
        // addressed inside their namespace (its collection may be listed across namespaces).
        if !namespaced && namespace.is_some() {
            return Err(ApiError::path_not_found());
        }
        if namespaced && namespace.is_none() && !name.is_empty() {
            return Err(ApiError::path_not_found());
        }
        if name.is_empty() && subresource != Subresource::Main {
            return Err(ApiError::path_not_found());
        }
        Ok(Target {
            kind,
            version,
            namespace,
            name,
            subresource,
        })
    }

    /// The namespace as the registry takes it.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The store of this kind.
    pub fn store<'a>(&self, state: &'a AppState) -> &'a ResourceStore {
        state.registry.store(self.kind)
    }
}

/// Everything a handler needs about its request.
#[derive(Debug)]
pub struct Call {
    pub state: AppState,
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: axum::body::Body,
    /// The caller, as authenticated (anonymous when the chain put none there).
    pub user: UserInfo,
}

impl Call {
    /// The presenter for a response of `endpoint`'s shape, from the `Accept` header and
    /// `includeObject`.
    pub fn presenter(&self, endpoint: Endpoint) -> Result<Presenter, ApiError> {
        let output: Output = negotiate::negotiate(self.headers.get(header::ACCEPT), endpoint)?;
        Ok(Presenter {
            kind: self.target.kind,
            version: self.target.version,
            output,
            include_object: IncludeObject::parse(&self.query)?,
        })
    }

    /// The `User-Agent` header.
    pub fn user_agent(&self) -> Option<&str> {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }
}

/// Routes a resource request to its handler. Non-resource paths never get here.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let Some(RequestInfo::Resource(info)) = request.extensions().get::<RequestInfo>().cloned()
    else {
        return ApiError::path_not_found().into_response();
    };
    let target = match Target::resolve(&info) {
        Ok(target) => target,
        Err(err) => return err.into_response(),
    };
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let call = Call {
        state,
        target,
        query: Query::parse(parts.uri.query()),
        user: parts
            .extensions
            .get::<UserInfo>()
            .cloned()
            .unwrap_or_else(UserInfo::anonymous),
        headers: parts.headers,
        body,
    };
    let collection = call.target.name.is_empty();
    let namespaced = call.target.kind.info().namespaced;
    let in_scope = !namespaced || call.target.namespace.is_some();
    let status = call.target.subresource == Subresource::Status;
    let result = match (info.verb, method, collection) {
        ("watch", _, _) => watch::watch(call, Some(info.name).filter(|n| !n.is_empty())).await,
        ("list", _, _) => read::list(call).await,
        // Creating and deleting collections happen in a namespace for namespaced kinds.
        (_, Method::POST, true) if in_scope => write::create(call).await,
        (_, Method::DELETE, true) if in_scope => delete::delete_collection(call).await,
        (_, Method::GET | Method::HEAD, false) => read::get(call).await,
        (_, Method::PUT, false) => write::update(call).await,
        (_, Method::PATCH, false) => write::patch(call).await,
        (_, Method::DELETE, false) if !status => delete::delete(call).await,
        _ => Err(ApiError::method_not_allowed()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}
