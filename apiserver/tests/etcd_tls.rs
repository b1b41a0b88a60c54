//! The server in standalone mode on a real etcd that serves clients only over TLS and only
//! with a client certificate (`--client-cert-auth`), configured with kube-apiserver's flags
//! `--etcd-cafile`, `--etcd-certfile` and `--etcd-keyfile`: it starts, its objects and its
//! leader election's key land in that etcd, and without the client certificate it refuses
//! to start and says why.

use std::time::Duration;

use anyhow::{bail, ensure};
use clap::Parser;
use etcd_client::{Client, ConnectOptions, GetOptions};
use prepull_apiserver::config::Config;
use prepull_apiserver::leader::etcd::LEADER_KEY;
use prepull_apiserver::options::Options;
use prepull_storage::etcd::{EtcdTls, EtcdTlsFiles};
use prepull_testbed::{Etcd, KUBECTL_BINARY, Kubectl, assert_eventually, free_loopback_port};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long the server may take to answer `/readyz`, and a write to show up in etcd.
const WAIT: Duration = Duration::from_secs(30);
/// Startup must fail this fast when etcd refuses the handshake (the request deadline is 5 s).
const REFUSAL_DEADLINE: Duration = Duration::from_secs(4);

const PREFIX: &str = "/registry";

const NODE_IMAGE: &str = "\
apiVersion: apps.kruise.io/v1alpha1
kind: NodeImage
metadata:
  name: over-tls
spec: {}
";

/// The server's flags for standalone mode in `data_dir` on `etcd`, with `etcd_flags`.
fn args(data_dir: &std::path::Path, port: u16, etcd: &Etcd, etcd_flags: &[String]) -> Options {
    let mut args: Vec<String> = [
        "prepull-apiserver",
        "--standalone",
        "--bind-address",
        "127.0.0.1",
        "--shutdown-timeout-seconds",
        "5",
        "--leader-elect-lease-seconds",
        "3",
        "--etcd-prefix",
        PREFIX,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend([
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--secure-port".into(),
        port.to_string(),
        "--etcd-servers".into(),
        etcd.endpoint(),
    ]);
    args.extend_from_slice(etcd_flags);
    Options::parse_from(args)
}

/// `--etcd-cafile`, and with `client_certificate` `--etcd-certfile` and `--etcd-keyfile`.
fn tls_flags(etcd: &Etcd, client_certificate: bool) -> Vec<String> {
    let tls = etcd.tls().expect("a TLS etcd");
    let mut flags = vec![
        "--etcd-cafile".to_string(),
        tls.ca_file.display().to_string(),
    ];
    if client_certificate {
        flags.extend([
            "--etcd-certfile".to_string(),
            tls.client.cert.display().to_string(),
            "--etcd-keyfile".to_string(),
            tls.client.key.display().to_string(),
        ]);
    }
    flags
}

/// An etcd-client of the test's own on `etcd`, with its CA and client certificate.
async fn raw_client(etcd: &Etcd) -> Client {
    let tls = etcd.tls().expect("a TLS etcd");
    let files = EtcdTlsFiles {
        ca_file: Some(tls.ca_file.clone()),
        cert_file: Some(tls.client.cert.clone()),
        key_file: Some(tls.client.key.clone()),
    };
    let options = EtcdTls::load(&files)
        .expect("valid TLS files")
        .apply(ConnectOptions::new(), Duration::from_secs(1));
    Client::connect([etcd.endpoint()], Some(options))
        .await
        .expect("the test's client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_standalone_on_a_tls_etcd_with_a_client_certificate() {
    let etcd = Etcd::start_tls().await.expect("TLS etcd starts");
    let dir = tempfile::tempdir().unwrap();
    let port = free_loopback_port().unwrap();
    let config = Config::from_options(args(dir.path(), port, &etcd, &tls_flags(&etcd, true)))
        .expect("valid config");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(prepull_apiserver::run_until(config, async move {
        let _ = stopped.await;
    }));
    let kubectl = Kubectl::with_binary(KUBECTL_BINARY, dir.path().join("kubeconfig"));
    assert_eventually("the server answers /readyz", WAIT, || async {
        ensure!(!server.is_finished(), "the server stopped");
        let out = kubectl
            .run(&["get", "--raw", "/readyz", "--request-timeout=2s"])
            .await?;
        ensure!(out.trim() == "ok", "/readyz said {out:?}");
        Ok(())
    })
    .await;
    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(NODE_IMAGE))
        .await
        .expect("kubectl apply");

    let mut client = raw_client(&etcd).await;
    let stored = client
        .get(
            format!("{PREFIX}/"),
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .expect("the test reads etcd");
    let keys: Vec<String> = stored
        .kvs()
        .iter()
        .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.contains("nodeimages") && k.ends_with("/over-tls")),
        "the NodeImage is in the TLS etcd: {keys:?}"
    );
    // The scheduler's election runs on its own etcd client: it, too, got through.
    let leader_key = format!("{PREFIX}{LEADER_KEY}");
    assert_eventually("the leader election holds its key", WAIT, || {
        let mut client = client.clone();
        let leader_key = leader_key.clone();
        async move {
            let held = client.get(leader_key.as_str(), None).await?;
            match held.kvs().first() {
                Some(kv) if !kv.value().is_empty() => Ok(()),
                _ => bail!("{leader_key} not held yet"),
            }
        }
    })
    .await;

    let _ = stop.send(());
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the server stops in time")
        .expect("the server task does not panic")
        .expect("the server ran without error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_client_certificate_the_server_refuses_to_start_and_says_why() {
    let etcd = Etcd::start_tls().await.expect("TLS etcd starts");
    let dir = tempfile::tempdir().unwrap();
    let port = free_loopback_port().unwrap();
    let config = Config::from_options(args(dir.path(), port, &etcd, &tls_flags(&etcd, false)))
        .expect("a CA alone is a valid configuration");
    let started = Instant::now();
    let result = tokio::time::timeout(
        WAIT,
        prepull_apiserver::run_until(config, std::future::pending()),
    )
    .await
    .expect("the server gives up instead of hanging");
    let took = started.elapsed();
    let error = format!("{:#}", result.expect_err("the server refuses to start"));
    assert!(
        error.contains("refused this client's TLS certificate"),
        "{error}"
    );
    assert!(
        took < REFUSAL_DEADLINE,
        "refused only after {took:?}: {error}"
    );
}
