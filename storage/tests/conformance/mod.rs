//! The storage conformance suite: one set of cases every backend and the watch cache must
//! pass. A test file per backend implements [`Backend`] and expands [`conformance_suite!`].

#![allow(dead_code)]

pub mod cases;
pub mod embedded;

use std::sync::Arc;

use async_trait::async_trait;
use prepull_storage::{Revision, Storage};

/// A backend under test, with the hooks the cases need beyond the [`Storage`] trait.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A fresh, empty backend (its own etcd or its own directory).
    async fn new() -> Self
    where
        Self: Sized;

    /// The store under test. After [`Backend::restart`], a new handle on the same data.
    fn store(&self) -> Arc<dyn Storage>;

    /// Puts `raw` under `key` bypassing the envelope, as disk damage or a foreign writer would.
    async fn write_raw(&self, key: &str, raw: &[u8]);

    /// Discards history up to `revision` (etcd compaction; the embedded store's history trim).
    async fn compact(&self, revision: Revision);

    /// Closes the store and opens it again on the same data, as a process restart would.
    /// Backends whose data does not outlive the process return `false`.
    async fn restart(&mut self) -> bool;
}

/// Expands to one `#[tokio::test]` per conformance case for the backend type `$backend`.
#[macro_export]
macro_rules! conformance_suite {
    ($backend:ty) => {
        $crate::conformance_suite!(@cases $backend;
            create_then_get_round_trips,
            create_of_an_existing_key_is_already_exists,
            get_of_a_missing_key_is_not_found,
            update_with_a_stale_revision_is_a_conflict_carrying_the_winner,
            update_never_creates,
            concurrent_creates_of_one_key_have_exactly_one_winner,
            concurrent_guaranteed_updates_lose_nothing,
            delete_with_a_stale_precondition_is_a_conflict,
            delete_returns_the_last_value_at_the_delete_revision,
            revisions_grow_with_every_write,
            list_returns_keys_under_the_prefix_in_order,
            list_pages_stay_at_the_first_page_revision_under_concurrent_writes,
            list_at_an_old_revision_sees_the_old_state,
            list_at_a_future_revision_is_too_large,
            a_malformed_continue_token_is_rejected,
            watch_delivers_every_change_in_order_with_previous_values,
            watch_resumes_from_a_revision_without_gaps,
            watch_only_sees_its_prefix,
            watch_from_a_compacted_revision_is_expired,
            list_at_a_compacted_revision_is_expired,
            continue_token_past_compaction_is_expired,
            oversized_values_are_rejected_and_nothing_is_written,
            corrupt_stored_bytes_are_a_typed_error,
            restart_loses_nothing,
            random_operation_sequences_agree_with_a_model,
        );
    };
    (@cases $backend:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = <$backend as $crate::conformance::Backend>::new().await;
                $crate::conformance::cases::$case(backend).await;
            }
        )*
    };
}
