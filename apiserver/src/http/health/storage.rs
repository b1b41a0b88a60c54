//! The `storage` check: live while the storage answers, ready while it takes writes.
//!
//! A full disk must take the server out of rotation (its writes fail with 507) but must not get
//! it restarted: a restart frees no space, and reads are still served. So `/healthz` and
//! `/livez` ask for the current revision, and `/readyz` asks [`Storage::check_writable`], which
//! the embedded store answers from its writer's state without touching the disk while healthy.

use std::sync::Arc;

use prepull_storage::Storage;

use super::{CheckFailed, HealthChecks};

/// `checks` with the `storage` check of `storage` (the store the registry writes to).
pub fn with_storage_check(checks: HealthChecks, storage: Arc<dyn Storage>) -> HealthChecks {
    let live = storage.clone();
    checks.with_check_and_readiness(
        "storage",
        move || {
            let storage = live.clone();
            async move {
                storage
                    .current_revision()
                    .await
                    .map(|_| ())
                    .map_err(|err| CheckFailed(err.to_string()))
            }
        },
        move || {
            let storage = storage.clone();
            async move {
                storage
                    .check_writable()
                    .await
                    .map_err(|err| CheckFailed(err.to_string()))
            }
        },
    )
}
