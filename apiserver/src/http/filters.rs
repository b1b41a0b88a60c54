//! The filters every request passes before a handler, in this order (as in kube-apiserver's
//! handler chain): [`request_info`] (what the request is about) -> [`authenticate`] (who
//! sends it) -> [`authorize`] (may they; 403 otherwise) -> [`deadline`] (non-watch requests
//! get `--request-timeout`; 504 after it).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::request_info::RequestInfo;
use super::state::AppState;
use super::status::ApiError;
use crate::auth::UserInfo;
use crate::auth::authenticate::Credentials;
use crate::auth::authorize::{Decision, forbidden_message};
use crate::serve::PeerCertificates;

/// Parses the [`RequestInfo`] and stores it as a request extension.
pub async fn request_info(mut request: Request, next: Next) -> Response {
    let info = RequestInfo::parse(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    request.extensions_mut().insert(info);
    next.run(request).await
}

/// Stores the caller's [`UserInfo`] as a request extension, as the state's
/// [`Authenticator`](crate::auth::authenticate::Authenticator) finds it (standalone: the
/// verified client certificate, or anonymous); credentials that do not verify are 401.
///
/// A request that already carries a `UserInfo` keeps it: only code inside this process can put
/// one there (extensions never come from the wire), which is how router-level tests and
/// in-process callers act as a given user.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<UserInfo>().is_none() {
        let certificates = request
            .extensions()
            .get::<PeerCertificates>()
            .cloned()
            .unwrap_or_default();
        let credentials = Credentials {
            headers: request.headers(),
            certificates: &certificates,
        };
        match state.authenticator.authenticate(credentials).await {
            Ok(user) => {
                request.extensions_mut().insert(user);
            }
            Err(err) => {
                tracing::debug!(%err, path = %request.uri().path(), "unauthenticated request");
                return ApiError::unauthorized().into_response();
            }
        }
    }
    next.run(request).await
}

/// Asks the authorizer; a refusal is 403 with kube-apiserver's text.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(user), Some(info)) = (
        request.extensions().get::<UserInfo>(),
        request.extensions().get::<RequestInfo>(),
    ) else {
        return ApiError::internal("authorization ran before authentication").into_response();
    };
    match state.authorizer.authorize(user, info).await {
        Decision::Allow => next.run(request).await,
        Decision::Deny(reason) => {
            ApiError::forbidden(forbidden_message(user, info, &reason)).into_response()
        }
    }
}

/// Bounds every request except watches by the configured request timeout. A request still
/// running then is answered 504 (the handler's future is dropped, which cancels it).
pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let long_running = matches!(
        request.extensions().get::<RequestInfo>(),
        Some(RequestInfo::Resource(r)) if r.verb == "watch"
    );
    if long_running {
        return next.run(request).await;
    }
    match tokio::time::timeout(state.requests.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout(
            "Timeout: request did not complete within requested timeout - context deadline exceeded",
        )
        .into_response(),
    }
}
