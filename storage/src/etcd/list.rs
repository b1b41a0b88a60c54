//! Paged lists: one etcd range per page, every page after the first read at the first page's
//! revision (carried in the shared [`crate::continue_token`]), so a list is a consistent
//! snapshot however long the client takes between pages.

use etcd_client::GetOptions;

use super::error_translation::Call;
use super::keyspace::signed;
use super::store::{EtcdStore, revision_of};
use crate::{ListOptions, ListPage, StorageError, continue_token};

/// One page of keys under `prefix`. [`StorageError::RevisionTooLarge`] comes back with
/// `current: 0` (the store fills it in).
pub(super) async fn list(
    store: &EtcdStore,
    prefix: &str,
    options: &ListOptions,
) -> Result<ListPage, StorageError> {
    // Every key starts with `/`: the empty prefix is `/`, which the continue token (relative to
    // the prefix, never starting with `/`) can express.
    let prefix = if prefix.is_empty() { "/" } else { prefix };
    let (prefix_start, end) = store.keyspace.prefix_range(prefix);
    let (start, revision) = match &options.continue_token {
        Some(token) => {
            let next = continue_token::decode(prefix, token)?;
            (
                store.keyspace.etcd_key(&next.start_key),
                Some(next.revision),
            )
        }
        None => (prefix_start, options.revision.filter(|&rev| rev > 0)),
    };

    let mut get = GetOptions::new().with_range(end);
    if let Some(limit) = options.limit.filter(|&limit| limit > 0) {
        get = get.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    if let Some(revision) = revision {
        get = get.with_revision(signed(revision));
    }

    let call = Call::on(prefix).at(revision);
    let mut response = store
        .sending(&call, || {
            let mut kv = store.kv.clone();
            let (start, get) = (start.clone(), get.clone());
            async move { kv.get(start, Some(get)).await }
        })
        .await?;

    // etcd's header carries the latest revision, not the one read at.
    let revision = match revision {
        Some(revision) => revision,
        None => revision_of(response.header())?,
    };
    let more = response.more();
    // `count` is the number of keys in the whole range, of which this page holds the first.
    let total = u64::try_from(response.count()).unwrap_or(0);
    let items = response
        .take_kvs()
        .into_iter()
        .map(|kv| store.keyspace.read_etcd(kv))
        .collect::<Result<Vec<_>, _>>()?;

    let continue_token = match items.last() {
        Some(last) if more => Some(continue_token::encode(prefix, &last.key, revision)),
        _ => None,
    };
    let remaining = Some(total.saturating_sub(items.len() as u64));
    Ok(ListPage {
        items,
        revision,
        continue_token,
        remaining,
    })
}
