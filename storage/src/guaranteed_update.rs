//! Read-modify-write with retries: the way every caller changes an existing object.

use bytes::Bytes;

use crate::{KeyValue, Storage, StorageError};

/// How many times a guaranteed update retries a lost compare-and-swap before giving up with the
/// conflict. High enough that contention from a few writers never surfaces; bounded so a
/// livelock becomes an error instead of a hang.
pub const MAX_ATTEMPTS: usize = 64;

/// Why a guaranteed update did not write.
#[derive(Debug, thiserror::Error)]
pub enum GuaranteedUpdateError<E> {
    /// The storage call failed (including a conflict that persisted for [`MAX_ATTEMPTS`]).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The update function refused the current value.
    #[error("update rejected: {0}")]
    Rejected(E),
}

/// Applies `update` to the current value of `key` and writes the result with compare-and-swap,
/// re-reading and re-applying on conflict.
///
/// `update` may run several times and must be a pure function of the value it is given. It
/// returns `Ok(None)` when nothing needs to change: then nothing is written and the current
/// value is returned. `cached` is a possibly stale copy of the key (e.g. from the watch cache)
/// used for the first attempt to save a read.
pub async fn guaranteed_update<S, F, E>(
    store: &S,
    key: &str,
    cached: Option<KeyValue>,
    mut update: F,
) -> Result<KeyValue, GuaranteedUpdateError<E>>
where
    S: Storage + ?Sized,
    F: FnMut(&KeyValue) -> Result<Option<Bytes>, E>,
{
    let mut current = match cached {
        Some(kv) => kv,
        None => store.get(key).await?,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(next) = update(&current).map_err(GuaranteedUpdateError::Rejected)? else {
            return Ok(current);
        };
        match store.update(key, next, current.mod_revision).await {
            Ok(written) => return Ok(written),
            Err(StorageError::Conflict {
                current: Some(winner),
                ..
            }) if attempt < MAX_ATTEMPTS => {
                current = *winner;
            }
            Err(StorageError::Conflict { current: None, .. }) if attempt < MAX_ATTEMPTS => {
                current = store.get(key).await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
}
