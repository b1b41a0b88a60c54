//! Cluster mode's authentication and authorization, delegated to kube-apiserver as any
//! aggregated API server does: [`DelegatedAuthenticator`] trusts the front proxy and user
//! certificates per the [`trust`] kube-apiserver publishes (followed by [`TrustSource`]) and
//! reviews bearer tokens ([`TokenReviewer`]); [`DelegatedAuthorizer`] asks
//! SubjectAccessReviews.

pub mod authenticator;
pub mod authorizer;
pub mod request_header;
pub mod token_review;
pub mod trust;
pub mod trust_source;

pub use authenticator::{DelegatedAuthenticator, NODE_NAME_EXTRA};
pub use authorizer::{AuthorizationOptions, DelegatedAuthorizer};
pub use token_review::TokenReviewer;
pub use trust::AuthenticationTrust;
pub use trust_source::{TrustSource, TrustSourceError};
