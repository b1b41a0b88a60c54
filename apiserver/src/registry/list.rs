//! List: label and field selectors, limit/continue, and resourceVersion semantics.
//!
//! Selectors are applied while paging through the storage, so a page holds up to `limit`
//! matching objects and its continue token resumes right after the last key examined
//! (like kube-apiserver's storage-side filtering).

use prepull_storage::continue_token;
use prepull_storage::{ListOptions, Revision};

use super::errors::{self, During};
use super::object::{Object, ObjectList};
use super::params::ListParams;
use super::read_revision::{self, ReadRevision};
use super::selectors::Selectors;
use super::store::ResourceStore;
use crate::http::status::ApiError;

/// Storage page size while filtering with selectors (keys examined per storage call).
const FILTERED_PAGE: u64 = 500;

impl ResourceStore {
    /// Lists objects in `namespace` (`None`: every namespace, or a cluster-scoped kind).
    ///
    /// `resourceVersion` unset reads the latest state, `0` any state, N a state not older
    /// than N (504 when the store has not reached N), N with `resourceVersionMatch=Exact` the
    /// state at N (410 when compacted). With `limit`, pages of at most `limit` items follow
    /// one another through `continue` at the revision of the first page (410 when it has
    /// been compacted, 400 for a malformed token). Option combinations Kubernetes forbids are
    /// 422, bad selectors 400.
    pub async fn list(
        &self,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ObjectList, ApiError> {
        let read = read_revision::for_list(params)?;
        let selectors = Selectors::parse(
            self.kind,
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
        )?;
        let prefix = self.selection_prefix(namespace, &selectors);
        let continuing = params
            .continue_token
            .as_deref()
            .is_some_and(|t| !t.is_empty());
        let during = if continuing {
            During::ContinuedList
        } else {
            During::Request
        };
        let mut options = ListOptions {
            limit: None,
            continue_token: params.continue_token.clone().filter(|t| !t.is_empty()),
            revision: None,
        };
        if let (ReadRevision::Exact(revision), false) = (read, continuing) {
            options.revision = Some(revision);
        }
        let limit = params.limit.filter(|limit| *limit > 0);
        let list_error = |err| errors::from_storage(err, &errors::subject(self.kind, ""), during);

        if selectors.is_everything() {
            options.limit = limit;
            let page = self
                .source
                .list(&prefix, &options, read)
                .await
                .map_err(list_error)?;
            let items = page
                .items
                .iter()
                .map(|kv| Object::from_stored(&kv.value, &kv.key, kv.mod_revision))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(ObjectList {
                items,
                resource_version: page.revision.to_string(),
                continue_token: page.continue_token,
                remaining_item_count: page.remaining,
            });
        }

        let mut items = Vec::new();
        let mut revision: Option<Revision> = None;
        let mut continue_out = None;
        'pages: loop {
            let wanted = limit.map(|limit| limit - items.len() as u64);
            options.limit = Some(wanted.map_or(FILTERED_PAGE, |w| w.max(FILTERED_PAGE)));
            let page = self
                .source
                .list(&prefix, &options, read)
                .await
                .map_err(list_error)?;
            let read_at = *revision.get_or_insert(page.revision);
            for (index, kv) in page.items.iter().enumerate() {
                let object = Object::from_stored(&kv.value, &kv.key, kv.mod_revision)?;
                if !selectors.matches(object.value()) {
                    continue;
                }
                items.push(object);
                if limit.is_some_and(|limit| items.len() as u64 >= limit) {
                    let more = index + 1 < page.items.len() || page.continue_token.is_some();
                    if more {
                        continue_out = Some(continue_token::encode(&prefix, &kv.key, read_at));
                    }
                    break 'pages;
                }
            }
            match page.continue_token {
                Some(token) => {
                    options.continue_token = Some(token);
                    options.revision = None;
                }
                None => break,
            }
        }
        Ok(ObjectList {
            items,
            // Every loop reads at least one page, which sets the revision.
            resource_version: revision.unwrap_or_default().to_string(),
            continue_token: continue_out,
            remaining_item_count: None,
        })
    }

    /// The key prefix covering what `selectors` can match in `namespace`: one object's key
    /// (which also covers longer names; the selectors drop those) when `metadata.name` is
    /// pinned and the namespace is known, else the namespace's or the resource's prefix.
    pub(super) fn selection_prefix(
        &self,
        namespace: Option<&str>,
        selectors: &Selectors,
    ) -> String {
        let namespace = self.scope(namespace);
        let known_namespace = namespace.is_some() || !self.kind.info().namespaced;
        match selectors.pinned_name() {
            Some(name) if known_namespace && !name.is_empty() => self.key(namespace, name),
            _ => self.prefix(namespace),
        }
    }
}
