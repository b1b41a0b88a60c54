//! [`WriteGuard`]: the requester-dependent admission of a write, run after the write pipeline
//! has admitted the object and before anything is stored (kube-apiserver's NodeRestriction is
//! one). The registry knows nothing of users; the HTTP layer passes a guard built from the
//! request's identity ([`crate::auth::node_restriction::NodeRestriction`]), in-process
//! writers (the scheduler) pass [`Unguarded`].

use serde_json::Value;

use super::params::Subresource;
use crate::http::status::ApiError;

/// Decides, from the requester, whether an admitted write may be stored. Its errors are
/// returned to the client as they are (403 as a rule); a refused write stores nothing.
pub trait WriteGuard: Sync {
    /// Whether the object named `name` may be created.
    fn may_create(&self, name: &str) -> Result<(), ApiError> {
        let _ = name;
        Ok(())
    }

    /// Whether object `name` may change from `old` to `new` (both as stored, after the write
    /// pipeline) through `subresource`.
    fn may_update(
        &self,
        name: &str,
        subresource: Subresource,
        old: &Value,
        new: &Value,
    ) -> Result<(), ApiError> {
        let _ = (name, subresource, old, new);
        Ok(())
    }
}

/// Admits every write: in-process writers and requesters the authorizer alone decides for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unguarded;

impl WriteGuard for Unguarded {}
