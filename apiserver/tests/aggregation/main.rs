//! Cluster mode end to end, on a real kube-apiserver: our server registered through
//! APIServices, kubectl through kube-apiserver and straight to our server, RBAC through
//! delegated authorization, TokenReview, node identities from bound service-account tokens,
//! watch streaming through the aggregator, private images pulled by real agents and containerd
//! with pull Secrets handed over by our server, readiness taints removed once a Node's required
//! images are in, the manifests dry-run and their RBAC,
//! serving-certificate rotation and the refusal to start next to CRDs of our group.
//!
//! kube-apiserver costs several CPU-seconds to start, so one cluster serves every case: the
//! cases run in order in one test (the CRD case last: it leaves a CRD of our group behind
//! until it deletes it).

mod cert_rotation;
mod crd_conflict;
mod delegated_auth;
mod discovery;
mod manifest_rbac;
mod manifests;
mod node_identity;
mod private_registry;
mod readiness_taints;
mod support;
mod watch;

use std::time::Instant;

use support::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_works_behind_a_real_kube_apiserver() {
    let started = Instant::now();
    let env = Env::start().await;
    eprintln!("cluster up in {:?}", started.elapsed());
    let steps = Instant::now();
    discovery::kubectl_lists_and_explains_our_kinds_through_kube_apiserver(&env).await;
    delegated_auth::rbac_decides_through_kube_apiserver_and_straight_to_our_server(&env).await;
    delegated_auth::service_account_tokens_are_reviewed_and_bad_credentials_are_401(&env).await;
    delegated_auth::a_client_ca_added_to_the_config_map_is_trusted_without_a_restart(&env).await;
    node_identity::a_node_bound_agent_token_may_register_only_its_own_node_image(&env).await;
    watch::a_watch_through_kube_apiserver_streams_status_changes(&env).await;
    private_registry::a_job_with_pull_secrets_completes_on_every_node_and_without_them_fails_401(
        &env,
    )
    .await;
    readiness_taints::a_tainted_node_loses_the_taint_once_its_required_images_are_in(&env).await;
    manifests::the_manifests_pass_a_server_side_dry_run(&env).await;
    manifest_rbac::the_server_needs_no_more_than_the_manifests_rbac(&env).await;
    cert_rotation::a_renewed_serving_certificate_is_served_without_a_restart(&env).await;
    crd_conflict::the_server_refuses_to_start_next_to_crds_of_our_group(&env).await;
    eprintln!("cases ran in {:?}", steps.elapsed());
    env.stop().await;
}
