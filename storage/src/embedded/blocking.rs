//! Running disk work off the async runtime, under the store's deadline.

use std::time::Duration;

use crate::StorageError;

/// Runs `work` on tokio's blocking pool and waits at most `timeout` for it. A timed-out call
/// is `Unavailable`; the work itself runs to completion in the background.
pub(super) async fn run_blocking<T, F>(timeout: Duration, work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) => Err(StorageError::Internal(format!(
            "embedded store read failed: {join_error}"
        ))),
        Err(_) => Err(StorageError::Unavailable {
            reason: format!("embedded store did not answer within {timeout:?}"),
        }),
    }
}
