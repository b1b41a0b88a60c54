//! Delete and deletecollection: preconditions, finalizers and deletionTimestamp, as
//! kube-apiserver's generic store does them for kinds without graceful deletion.

use futures::{StreamExt, TryStreamExt};
use prepull_api::field_error::{FieldError, FieldPath};
use prepull_storage::StorageError;
use serde_json::Value;

use super::errors;
use super::object::{Object, clear_resource_version};
use super::params::{DeleteParams, ListParams, Preconditions, PropagationPolicy};
use super::read_revision::ReadRevision;
use super::store::ResourceStore;
use super::{Deleted, ObjectList};
use crate::http::status::ApiError;

/// Finalizer the garbage collector processes for `propagationPolicy=Orphan`.
const ORPHAN: &str = "orphan";
/// Finalizer the garbage collector processes for `propagationPolicy=Foreground`.
const FOREGROUND: &str = "foregroundDeletion";

/// How many times a delete re-reads the object after losing a compare-and-swap.
const MAX_ATTEMPTS: usize = 16;

/// Deletes of one deletecollection running at once.
const COLLECTION_CONCURRENCY: usize = 16;

impl ResourceStore {
    /// Deletes object `name`.
    ///
    /// Preconditions (uid, resourceVersion) must hold (409 otherwise). An object with
    /// finalizers (including the garbage collector's, added for `propagationPolicy`
    /// Orphan/Foreground when garbage collection is on) is only marked: deletionTimestamp set,
    /// deletionGracePeriodSeconds 0, generation + 1; it goes when an update removes its last
    /// finalizer. Otherwise it is deleted now and its last state comes back, with the
    /// revision of the delete as resourceVersion. With `dry_run` nothing is written.
    pub async fn delete(
        &self,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Deleted, ApiError> {
        check_delete_params(params)?;
        let namespace = self.scope(namespace);
        let key = self.key(namespace, name);
        for _ in 0..MAX_ATTEMPTS {
            let (kv, existing) = self.read(namespace, name, ReadRevision::Latest).await?;
            self.check_preconditions(&existing, &params.preconditions)?;
            let mut marked = (*existing.value()).clone();
            if self.garbage_collection {
                set_collector_finalizers(&mut marked, params);
            }
            if has_finalizers(&marked) {
                mark_as_deleting(&mut marked, &self.clock.now_time());
                if marked == *existing.value() {
                    return Ok(pending(existing));
                }
                if params.dry_run {
                    return Ok(pending(Object::new(marked, None)));
                }
                clear_resource_version(&mut marked);
                let bytes = serde_json::to_vec(&marked).expect("JSON values serialize");
                match self
                    .source
                    .storage()
                    .update(&key, bytes.into(), kv.mod_revision)
                    .await
                {
                    Ok(kv) => return Ok(pending(Object::new(marked, Some(kv.mod_revision)))),
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(err) => return Err(self.storage_error(err, name)),
                }
            }
            if params.dry_run {
                return Ok(Deleted {
                    object: existing,
                    finished: true,
                });
            }
            match self
                .source
                .storage()
                .delete(&key, Some(kv.mod_revision))
                .await
            {
                Ok(last) => {
                    return Ok(Deleted {
                        object: Object::from_stored(&last.value, &key, last.mod_revision)?,
                        finished: true,
                    });
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(err) => return Err(self.storage_error(err, name)),
            }
        }
        Err(ApiError::conflict(
            &errors::subject(self.kind, name),
            ApiError::STALE_OBJECT,
        ))
    }

    /// Deletes every object `list` selects (one page when it has a limit, else all pages),
    /// each as [`ResourceStore::delete`] would; objects already gone are skipped. Returns the
    /// selected objects as listed.
    pub async fn delete_collection(
        &self,
        namespace: Option<&str>,
        list: &ListParams,
        params: &DeleteParams,
    ) -> Result<ObjectList, ApiError> {
        check_delete_params(params)?;
        let single_page = list.limit.is_some_and(|limit| limit > 0);
        let mut page_params = list.clone();
        let mut selected = self.list(namespace, &page_params).await?;
        let mut pending_items = selected.items.clone();
        loop {
            futures::stream::iter(pending_items)
                .map(|item| async move {
                    let namespace = Some(item.namespace()).filter(|ns| !ns.is_empty());
                    match self.delete(namespace, item.name(), params).await {
                        Err(err) if err.code.as_u16() == 404 => Ok(()),
                        other => other.map(|_| ()),
                    }
                })
                .buffer_unordered(COLLECTION_CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
            let Some(token) = selected.continue_token.clone().filter(|_| !single_page) else {
                break;
            };
            page_params.continue_token = Some(token);
            page_params.resource_version = None;
            page_params.resource_version_match = None;
            let page = self.list(namespace, &page_params).await?;
            pending_items = page.items.clone();
            selected.items.extend(page.items);
            selected.continue_token = page.continue_token;
        }
        if !single_page {
            selected.continue_token = None;
            selected.remaining_item_count = None;
        }
        Ok(selected)
    }

    /// kube-apiserver's early precondition check, with its texts.
    fn check_preconditions(
        &self,
        existing: &Object,
        preconditions: &Preconditions,
    ) -> Result<(), ApiError> {
        if let Some(uid) = preconditions.uid.as_deref()
            && uid != existing.uid()
        {
            let detail = format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                existing.uid()
            );
            return Err(errors::precondition_failed(
                self.kind,
                existing.name(),
                &detail,
            ));
        }
        if let Some(rv) = preconditions.resource_version.as_deref()
            && rv != existing.resource_version()
        {
            let detail = format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                existing.resource_version()
            );
            return Err(errors::precondition_failed(
                self.kind,
                existing.name(),
                &detail,
            ));
        }
        Ok(())
    }
}

fn pending(object: Object) -> Deleted {
    Deleted {
        object,
        finished: false,
    }
}

/// DeleteOptions validation: `orphanDependents` and `propagationPolicy` exclude each other.
fn check_delete_params(params: &DeleteParams) -> Result<(), ApiError> {
    if let (Some(_), Some(policy)) = (params.orphan_dependents, params.propagation_policy) {
        let problem = FieldError::invalid(
            &FieldPath::new("propagationPolicy"),
            policy.as_str(),
            "orphanDependents and deletionPropagation cannot be both set",
        );
        return Err(errors::invalid_options("DeleteOptions", &[problem]));
    }
    Ok(())
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| Some(f.as_str()?.to_owned()))
        .collect()
}

fn has_finalizers(object: &Value) -> bool {
    !finalizers(object).is_empty()
}

/// Adds or removes the garbage collector's finalizers as the delete options (then the
/// object's existing finalizers) say, like kube-apiserver's
/// `deletionFinalizersForGarbageCollection` for kinds whose default is background deletion.
fn set_collector_finalizers(object: &mut Value, params: &DeleteParams) {
    let current = finalizers(object);
    let has = |f: &str| current.iter().any(|c| c == f);
    let orphan = match (params.orphan_dependents, params.propagation_policy) {
        (Some(orphan), _) => orphan,
        (None, Some(policy)) => policy == PropagationPolicy::Orphan,
        (None, None) => has(ORPHAN),
    };
    let foreground = match (params.orphan_dependents, params.propagation_policy) {
        (Some(_), _) => false,
        (None, Some(policy)) => policy == PropagationPolicy::Foreground,
        (None, None) => has(FOREGROUND) && !has(ORPHAN),
    };
    let mut wanted: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN && *f != FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        wanted.push(ORPHAN.into());
    }
    if foreground {
        wanted.push(FOREGROUND.into());
    }
    let mut before = current.clone();
    let mut after = wanted.clone();
    before.sort();
    before.dedup();
    after.sort();
    after.dedup();
    if before != after
        && let Some(Value::Object(meta)) = object.get_mut("metadata")
    {
        meta.insert("finalizers".into(), wanted.into());
    }
}

/// Sets deletionTimestamp (unless set) and deletionGracePeriodSeconds 0; the first time,
/// generation + 1 (kube-apiserver's `markAsDeleting`).
fn mark_as_deleting(
    object: &mut Value,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) {
    let Some(Value::Object(meta)) = object.get_mut("metadata") else {
        return;
    };
    if meta.get("deletionTimestamp").is_none_or(Value::is_null) {
        if let Some(generation) = meta.get("generation").and_then(Value::as_i64)
            && generation > 0
        {
            meta.insert("generation".into(), (generation + 1).into());
        }
        let now = serde_json::to_value(now).expect("times serialize");
        meta.insert("deletionTimestamp".into(), now);
    }
    meta.insert("deletionGracePeriodSeconds".into(), 0.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_finalizers(list: Value) -> Value {
        json!({"metadata": {"name": "a", "finalizers": list}})
    }

    #[test]
    fn orphan_and_foreground_policies_add_the_collector_finalizers() {
        let mut object = with_finalizers(json!(["x.io/keep"]));
        let orphan = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..DeleteParams::default()
        };
        set_collector_finalizers(&mut object, &orphan);
        assert_eq!(finalizers(&object), ["x.io/keep", "orphan"]);
        let foreground = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..DeleteParams::default()
        };
        set_collector_finalizers(&mut object, &foreground);
        assert_eq!(finalizers(&object), ["x.io/keep", "foregroundDeletion"]);
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        set_collector_finalizers(&mut object, &background);
        assert_eq!(finalizers(&object), ["x.io/keep"]);
    }

    #[test]
    fn orphan_dependents_and_propagation_policy_exclude_each_other() {
        let params = DeleteParams {
            orphan_dependents: Some(true),
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let err = check_delete_params(&params).unwrap_err();
        assert_eq!(
            err.message,
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Background\": orphanDependents and deletionPropagation cannot be both set"
        );
    }
}
