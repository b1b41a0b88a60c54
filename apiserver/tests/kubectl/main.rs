//! kubectl against the real server in standalone mode (TLS, client certificates, the
//! generated kubeconfig), once on the embedded store and once on a real etcd.
//!
//! Needs `/usr/bin/kubectl` and, for the etcd runs, `/usr/bin/etcd` (Debian `etcd-server`).

mod scenarios;
mod support;

/// One test per scenario and storage backend, each with its own server.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let server = crate::support::TestServer::start(
                        crate::support::Backend::embedded().await,
                    )
                    .await;
                    crate::scenarios::$scenario(server).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let server = crate::support::TestServer::start(
                        crate::support::Backend::etcd().await,
                    )
                    .await;
                    crate::scenarios::$scenario(server).await;
                }
            )*
        }
    };
}

on_both_stores!(
    the_documented_examples_apply_and_print_their_columns,
    get_as_yaml_shows_the_defaults,
    get_watch_streams_a_change_made_by_another_client,
    patch_merges_the_documented_node_image_patch_and_json_patches,
    edit_with_a_scripted_editor_changes_the_object,
    explain_describes_the_completion_policy,
    delete_and_wait_for_delete,
    apply_with_server_dry_run_stores_nothing,
    an_unknown_field_is_rejected_naming_its_path,
    an_invalid_job_is_rejected_with_every_field_error,
    a_stale_update_gets_a_conflict,
    get_in_chunks_of_ten_lists_all_hundred_objects,
    a_restart_loses_nothing_and_a_resumed_watch_misses_no_event,
    health_and_metrics_report_the_storage,
);
