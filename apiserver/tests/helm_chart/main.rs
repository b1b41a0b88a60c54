//! The Helm chart (`charts/prepull`) and the monitoring it ships: `helm lint`, the values
//! schema, server-side dry runs on a real kube-apiserver, the same objects as `manifests/`,
//! a real install/upgrade/uninstall; the alerts through promtool and the dashboard's structure
//! and metrics against a running server.
//!
//! Needs helm (`tests/helm/build.sh`), kube-apiserver (`tests/kube/build.sh`), etcd and
//! promtool (Debian `etcd-server`, `prometheus`).

mod chart;
mod helm;
mod monitoring;
mod objects;
mod promql;
mod release_run;
mod tls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_matches_the_manifests_and_installs_upgrades_and_uninstalls() {
    chart::the_chart_matches_the_manifests_and_installs_upgrades_and_uninstalls().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_dashboard_check_and_read_only_exposed_metrics() {
    monitoring::alerts_and_dashboard_check_and_read_only_exposed_metrics().await;
}
