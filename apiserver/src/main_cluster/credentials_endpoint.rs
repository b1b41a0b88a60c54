//! The NodeImage subresource `credentials`: how a node's agent gets the pull secrets of its
//! tasks without reading Secrets itself.
//!
//! `GET /apis/apps.kruise.io/{version}/nodeimages/{node}/credentials?image=<name>` answers
//! `{"kind": "NodeCredentials", "apiVersion": ..., "image": <name>, "configs": [<docker
//! config>, ...]}` with the docker configs of the Secrets that the jobs owning the node's
//! tasks for that image list (see [`PullCredentials`]). It passes the router's authentication and authorization (through
//! kube-apiserver's aggregation proxy, RBAC must allow `get nodeimages/credentials`) and then
//! answers only the agent of that very node ([`node_of`]): anyone else gets 403, a node without
//! a task for the image gets 404. Answers are never cached (`Cache-Control: no-store`) and
//! their content is never logged.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use prepull_api::{ApiVersion, GROUP, Kind, NodeImage};
use serde::Deserialize;
use serde_json::json;

use super::node_identity::node_of;
use super::pull_credentials::{CredentialsError, PullCredentials};
use crate::auth::UserInfo;
use crate::http::status::{ApiError, Subject};
use crate::registry::{ReadRevision, Registry};

/// The subresource's name.
pub const SUBRESOURCE: &str = "credentials";
/// The `kind` of its answers.
pub const KIND: &str = "NodeCredentials";

#[derive(Clone, Debug)]
struct Endpoint {
    registry: Arc<Registry>,
    credentials: PullCredentials,
}

#[derive(Debug, Deserialize)]
struct CredentialsQuery {
    image: Option<String>,
}

/// The route, for any router state (it carries its own).
pub fn routes<S: Clone + Send + Sync + 'static>(
    registry: Arc<Registry>,
    credentials: PullCredentials,
) -> Router<S> {
    Router::new()
        .route(
            &format!("/apis/{GROUP}/{{version}}/nodeimages/{{node}}/{SUBRESOURCE}"),
            get(credentials_of_node),
        )
        .with_state(Endpoint {
            registry,
            credentials,
        })
}

async fn credentials_of_node(
    State(endpoint): State<Endpoint>,
    Path((version, node)): Path<(String, String)>,
    Query(query): Query<CredentialsQuery>,
    user: Option<Extension<UserInfo>>,
) -> Response {
    match answer(&endpoint, &version, &node, query, user.map(|u| u.0)).await {
        Ok(body) => ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

#[allow(clippy::result_large_err)] // `ApiError` is a whole Status; refusals are cold paths.
async fn answer(
    endpoint: &Endpoint,
    version: &str,
    node: &str,
    query: CredentialsQuery,
    user: Option<UserInfo>,
) -> Result<serde_json::Value, ApiError> {
    let Some(version) = ApiVersion::ALL.into_iter().find(|v| v.as_str() == version) else {
        return Err(ApiError::path_not_found());
    };
    let subject = Subject::new(GROUP, &format!("nodeimages/{SUBRESOURCE}"), node);
    let user = user.unwrap_or_else(UserInfo::anonymous);
    if node_of(&user) != Some(node) {
        return Err(ApiError::forbidden_object(
            &subject,
            &format!("only the agent of node {node:?} may read its pull credentials"),
        ));
    }
    let image = query
        .image
        .filter(|image| !image.is_empty())
        .ok_or_else(|| ApiError::bad_request("image: Required value: the image to pull"))?;
    let object = endpoint
        .registry
        .store(Kind::NodeImage)
        .get(None, node, ReadRevision::Latest)
        .await?;
    let node_image: NodeImage = serde_json::from_value((*object.value()).clone())
        .map_err(|err| ApiError::internal(format!("a stored NodeImage: {err}")))?;
    let configs = endpoint
        .credentials
        .for_image(&endpoint.registry, &node_image, &image)
        .await
        .map_err(|err| match err {
            CredentialsError::NoTask { .. } => ApiError::not_found(&subject),
            CredentialsError::Unreadable { .. } | CredentialsError::JobUnreadable { .. } => {
                ApiError::unavailable(err.to_string())
            }
        })?;
    Ok(json!({
        "kind": KIND,
        "apiVersion": version.api_version(),
        "image": image,
        "configs": configs,
    }))
}
