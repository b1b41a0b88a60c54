//! kubectl against the real server in standalone mode (TLS, client certificates, the
//! generated kubeconfig): every scenario with `/usr/bin/kubectl` once on the embedded store
//! and once on a real etcd, and the whole suite again with every other kubectl release on the
//! machine ([`prepull_testbed::VERSIONED_KUBECTLS`], 1.27 to 1.33) on the embedded store, one
//! test per release running the scenarios one after another.
//!
//! Needs the kubectls and, for the etcd runs, `/usr/bin/etcd` (Debian `etcd-server`).

mod scenarios;
mod server_side_apply;
mod strategic_merge;
mod support;

/// One test per scenario and storage backend, each with its own server; and one test per
/// versioned kubectl running every scenario, each scenario with its own server.
macro_rules! suite {
    ($($module:ident::$scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let server = crate::support::TestServer::start(
                        crate::support::Backend::embedded().await,
                    )
                    .await;
                    crate::$module::$scenario(server).await;
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
                    crate::$module::$scenario(server).await;
                }
            )*
        }
        /// Every scenario, in order, with the kubectl at `binary` on the embedded store.
        async fn whole_suite_with(binary: &str) {
            $(
                let started = std::time::Instant::now();
                let server = crate::support::TestServer::start_with(
                    crate::support::Backend::embedded().await,
                    binary,
                )
                .await;
                crate::$module::$scenario(server).await;
                println!("{binary}: {} took {:?}", stringify!($scenario), started.elapsed());
            )*
        }
    };
}

suite!(
    scenarios::the_documented_examples_apply_and_print_their_columns,
    scenarios::get_as_yaml_shows_the_defaults,
    scenarios::get_watch_streams_a_change_made_by_another_client,
    scenarios::patch_merges_the_documented_node_image_patch_and_json_patches,
    scenarios::edit_with_a_scripted_editor_changes_the_object,
    scenarios::explain_describes_the_completion_policy,
    scenarios::delete_and_wait_for_delete,
    scenarios::apply_with_server_dry_run_stores_nothing,
    scenarios::an_unknown_field_is_rejected_naming_its_path,
    scenarios::an_invalid_job_is_rejected_with_every_field_error,
    scenarios::a_stale_update_gets_a_conflict,
    scenarios::get_in_chunks_of_ten_lists_all_hundred_objects,
    scenarios::a_restart_loses_nothing_and_a_resumed_watch_misses_no_event,
    scenarios::health_and_metrics_report_the_storage,
    server_side_apply::two_managers_applying_one_field_conflict_until_one_forces,
    server_side_apply::server_side_apply_takes_over_from_client_side_apply,
    strategic_merge::a_strategic_patch_adds_one_tag_and_patch_delete_removes_one,
    strategic_merge::client_side_apply_of_a_changed_list_merges_by_key,
);

/// The whole suite with each kubectl release on the machine.
mod every_kubectl {
    macro_rules! releases {
        ($($test:ident => $index:expr),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::whole_suite_with(prepull_testbed::VERSIONED_KUBECTLS[$index]).await;
                }
            )*
        };
    }

    releases!(
        kubectl_1_27 => 0,
        kubectl_1_28 => 1,
        kubectl_1_29 => 2,
        kubectl_1_30 => 3,
        kubectl_1_31 => 4,
        kubectl_1_32 => 5,
        kubectl_1_33 => 6,
    );
}
