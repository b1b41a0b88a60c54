//! The alerts and the dashboard: promtool accepts the rules (as in the chart and in
//! manifests/monitoring), the two copies agree, the dashboard has Grafana's structure, and every
//! metric they read is one a running server or the agent exposes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use prepull_apiserver::config::Config;
use prepull_apiserver::options::Options;
use prepull_nodeagent::metrics::AgentMetrics;
use prepull_testbed::{Kubectl, eventually, free_loopback_port};
use serde_json::Value;

use crate::helm::{Helm, chart_dir};
use crate::promql::metric_names;

const PROMTOOL: &str = "/usr/bin/promtool";
/// Series Prometheus makes itself (not exposed by any target).
const PROMETHEUS_OWN: [&str; 1] = ["up"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// `promtool check rules` on `groups` (a rule file's text); panics with its output on failure.
async fn promtool_check_rules(dir: &Path, name: &str, groups: &str) -> String {
    assert!(
        Path::new(PROMTOOL).is_file(),
        "{PROMTOOL} is missing: apt-get install prometheus (tests/run.sh installs it)"
    );
    let file = dir.join(name);
    std::fs::write(&file, groups).unwrap();
    let out = tokio::process::Command::new(PROMTOOL)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .await
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check rules {name}:\n{text}");
    text
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("YAML")
}

/// The metric families in an OpenMetrics exposition, with the sample names each one has
/// (`_total` for counters, `_bucket`/`_sum`/`_count` for histograms).
fn exposed_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(family), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "summary" => &["", "_sum", "_count"],
            _ => &[""],
        };
        for suffix in suffixes {
            names.insert(format!("{family}{suffix}"));
        }
    }
    names
}

/// A standalone server in this process, its `/metrics`, then stopped.
async fn running_server_metrics() -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_loopback_port().unwrap();
    let config = Config::from_options(Options::parse_from([
        "prepull-apiserver",
        "--standalone",
        "--data-dir",
        &dir.path().display().to_string(),
        "--secure-port",
        &port.to_string(),
        "--shutdown-timeout-seconds",
        "5",
    ]))
    .expect("valid config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(prepull_apiserver::run_until(config, async move {
        let _ = stopped.await;
    }));
    let kubectl = Kubectl::new(dir.path().join("kubeconfig"));
    // The scheduler's leadership gauge is set once it runs; a watch makes the watch series.
    let mut watch = kubectl
        .command()
        .args(["get", "imagepulljobs", "-A", "--watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl watch");
    let metrics = eventually(
        "the server exposes its leadership",
        Duration::from_secs(30),
        || {
            let kubectl = kubectl.clone();
            async move {
                let text = kubectl.run(&["get", "--raw", "/metrics"]).await?;
                anyhow::ensure!(
                    text.contains("leader_election_master_status{name=\"prepull-scheduler\"} 1"),
                    "not leading yet"
                );
                anyhow::ensure!(
                    text.contains("apiserver_registered_watchers{"),
                    "the watch is not registered yet"
                );
                Ok(text)
            }
        },
    )
    .await
    .expect("/metrics answers");
    let _ = watch.kill().await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the server stops")
        .expect("no panic")
        .expect("no error");
    metrics
}

pub async fn alerts_and_dashboard_check_and_read_only_exposed_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let chart = chart_dir();
    let alerts_text = read(&chart.join("files/alerts.yaml"));
    let out = promtool_check_rules(dir.path(), "chart-files-alerts.yaml", &alerts_text).await;
    assert!(out.contains("SUCCESS: 11 rules found"), "{out}");
    let alerts = yaml(&alerts_text);

    // manifests/monitoring: the same groups in its PrometheusRule, the same dashboard bytes.
    let rule = yaml(&read(&repo("manifests/monitoring/prometheusrule.yaml")));
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["spec"], alerts, "manifests/monitoring has other rules");
    let dashboard_text = read(&chart.join("files/dashboard.json"));
    assert_eq!(
        read(&repo("manifests/monitoring/dashboard.json")),
        dashboard_text,
        "manifests/monitoring/dashboard.json differs from the chart's"
    );

    // The chart's rendered PrometheusRule passes promtool too.
    let helm = Helm::locate(dir.path(), &dir.path().join("no-kubeconfig")).await;
    let rendered = helm
        .ok(&[
            "template",
            "prepull",
            &chart.display().to_string(),
            "--show-only",
            "templates/monitoring.yaml",
            "--set",
            "monitoring.prometheusRule.enabled=true",
            "--set",
            "monitoring.dashboard.enabled=true",
        ])
        .await;
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&rendered)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML"))
        .filter(|doc: &Value| !doc.is_null())
        .collect();
    let rendered_rule = docs
        .iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .expect("a PrometheusRule");
    assert_eq!(rendered_rule["spec"], alerts);
    promtool_check_rules(
        dir.path(),
        "chart-rendered.yaml",
        &serde_norway::to_string(&rendered_rule["spec"]).unwrap(),
    )
    .await;
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("the dashboard ConfigMap");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let dashboard: Value = serde_json::from_str(&dashboard_text).expect("JSON");
    let embedded: Value = serde_json::from_str(
        config_map["data"]["prepull.json"]
            .as_str()
            .expect("the dashboard"),
    )
    .expect("JSON in the ConfigMap");
    assert_eq!(embedded, dashboard);

    // Every alert can be acted on.
    let mut queries: Vec<(String, String)> = Vec::new();
    for group in alerts["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("an alert").to_string();
            assert!(
                rule["labels"]["severity"].is_string(),
                "{name}: no severity"
            );
            assert!(
                rule["annotations"]["summary"].is_string(),
                "{name}: no summary"
            );
            queries.push((name, rule["expr"].as_str().expect("expr").to_string()));
        }
    }
    queries.extend(dashboard_queries(&dashboard));

    let mut exposed = exposed_names(&running_server_metrics().await);
    exposed.extend(exposed_names(&AgentMetrics::new().encode()));
    assert!(exposed.contains("apiserver_request_total"), "{exposed:?}");
    assert!(
        exposed.contains("prepull_nodeagent_pulls_total"),
        "{exposed:?}"
    );
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for (source, expr) in &queries {
        for name in metric_names(expr) {
            if !exposed.contains(&name) && !PROMETHEUS_OWN.contains(&name.as_str()) {
                unknown.push(format!("{source}: {name} in {expr}"));
            }
            used.insert(name);
        }
    }
    assert!(unknown.is_empty(), "not exposed:\n{}", unknown.join("\n"));
    assert!(used.len() >= 10, "{used:?}");
}

/// Grafana's structure: a Prometheus data source variable every panel and target uses, unique
/// panel ids inside the 24-column grid, targets with unique refIds and a query. Returns every
/// query (panel targets and variable queries) with where it comes from.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    assert!(dashboard["title"].is_string());
    assert!(
        dashboard["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.len() <= 40)
    );
    assert!(dashboard["schemaVersion"].as_i64().is_some_and(|v| v >= 36));
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable");
    assert_eq!(datasource["query"], "prometheus");
    let uid = format!("${{{}}}", datasource["name"].as_str().unwrap());
    let mut queries = Vec::new();
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        assert_eq!(variable["datasource"]["uid"], uid.as_str(), "{variable}");
        let query = variable["query"]["query"].as_str().expect("a query");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.rsplit_once(','))
            .map(|(selector, _label)| selector)
            .expect("label_values(selector, label)");
        queries.push((format!("variable {}", variable["name"]), inner.to_string()));
    }
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut graphs = 0;
    for panel in panels {
        let title = panel["title"].as_str().expect("a title").to_string();
        assert!(
            ids.insert(panel["id"].as_i64().expect("an id")),
            "{title}: id reused"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_i64().unwrap(), grid["w"].as_i64().unwrap());
        assert!(x >= 0 && w > 0 && x + w <= 24, "{title}: outside the grid");
        assert!(grid["h"].as_i64().is_some_and(|h| h > 0) && grid["y"].as_i64().is_some());
        if panel["type"] == "row" {
            continue;
        }
        graphs += 1;
        assert!(
            ["timeseries", "stat", "gauge", "table", "bargauge"]
                .contains(&panel["type"].as_str().unwrap()),
            "{title}: type"
        );
        assert_eq!(panel["datasource"]["uid"], uid.as_str(), "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert!(
                ref_ids.insert(target["refId"].as_str().expect("refId")),
                "{title}"
            );
            assert_eq!(target["datasource"]["uid"], uid.as_str(), "{title}");
            let expr = target["expr"].as_str().expect("expr");
            assert!(!expr.trim().is_empty(), "{title}: empty query");
            queries.push((format!("panel {title}"), expr.to_string()));
        }
    }
    assert!(graphs >= 12, "{graphs} panels");
    queries
}
