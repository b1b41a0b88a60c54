//! Readiness taints on a real kube-apiserver: three Nodes join with the taint
//! `prepull.io/images-not-ready:NoSchedule`. On the first, a required job (annotation
//! `prepull.io/required-for-readiness: "true"`) pulls an image through a real agent and
//! containerd: the taint goes once it succeeded. On the second, the required job's image does
//! not exist: the taint stays and the Node gets a Warning Event naming the job and the cause.
//! The third has no required job: its taint goes as soon as it has its NodeImage. Each
//! NodeImage's ImagesReady condition says the same.

use std::time::Duration;

use prepull_testbed::{Registry, RegistryOptions, eventually};
use serde_json::json;

use crate::private_registry::{ready_node, start_agent};
use crate::support::{Env, apply, ok};

const TAINT: &str = "prepull.io/images-not-ready";
const NAMESPACE_R: &str = "team-ready";
const SUCCEEDS: &str = "ready-1";
const FAILS: &str = "ready-2";
const NOTHING_REQUIRED: &str = "ready-3";
/// How long a decision may take (a pull, the job's status, the taint's patch).
const DECIDED_TIMEOUT: Duration = Duration::from_secs(90);

pub async fn a_tainted_node_loses_the_taint_once_its_required_images_are_in(env: &Env) {
    let registry = Registry::start(RegistryOptions::default())
        .await
        .expect("the registry starts");
    let host = registry.host_port();
    let image = registry
        .push_test_image("team/required", "v1")
        .await
        .expect("image pushed")
        .reference;
    let _ = env.admin.run(&["create", "namespace", NAMESPACE_R]).await;
    // The required jobs first, as an operator sets them up for nodes still to come.
    apply(env, &required_job("required-ok", &image, SUCCEEDS)).await;
    let missing = format!("{host}/team/required:no-such-tag");
    apply(env, &required_job("required-missing", &missing, FAILS)).await;

    let tainted = json!({"taints": [{"key": TAINT, "effect": "NoSchedule"}]});
    let mut agents = Vec::new();
    for node in [SUCCEEDS, FAILS] {
        ready_node(env, node, "ready", &tainted).await;
        // Its NodeImage exists now, its agent not yet: the taint must stay.
        assert!(
            taints(env, node).await.contains(TAINT),
            "{node} keeps the taint"
        );
        agents.push(start_agent(env, node, &host).await);
    }
    ready_node(env, NOTHING_REQUIRED, "ready", &tainted).await;

    for node in [SUCCEEDS, NOTHING_REQUIRED] {
        wait_untainted(env, node).await;
    }
    wait_counter(env, "required-ok", "succeeded").await;

    let admin = env.admin.clone();
    let selector = format!("involvedObject.name={FAILS},reason=RequiredImageFailed");
    let events = eventually(
        "the Node whose required pull failed gets a Warning Event",
        DECIDED_TIMEOUT,
        || {
            let admin = admin.clone();
            let selector = selector.clone();
            async move {
                let out = admin
                    .run(&[
                        "get",
                        "events",
                        "-A",
                        "--field-selector",
                        &selector,
                        "-o",
                        "jsonpath={range .items[*]}{.type}: {.message}{\"\\n\"}{end}",
                    ])
                    .await?;
                anyhow::ensure!(!out.trim().is_empty(), "no event yet");
                Ok(out)
            }
        },
    )
    .await;
    let events = match events {
        Ok(events) => events,
        Err(err) => {
            let all = env.admin.run(&["get", "events", "-A"]).await;
            let image = env
                .admin
                .run(&["get", "nodeimage", FAILS, "-o", "yaml"])
                .await;
            panic!("no Event on {FAILS}: {err:#}\nevents: {all:?}\nnodeimage: {image:?}");
        }
    };
    assert!(
        events.contains("Warning")
            && events.contains(&format!("{NAMESPACE_R}/required-missing"))
            && events.contains(&missing),
        "the Event names the job and image: {events}"
    );
    wait_counter(env, "required-missing", "failed").await;
    assert!(
        taints(env, FAILS).await.contains(TAINT),
        "the node whose required pull failed keeps the taint"
    );
    // The state the taint follows, on each NodeImage.
    for (node, wanted) in [
        (SUCCEEDS, "True RequiredImagesPulled"),
        (FAILS, "False RequiredImageFailed"),
        (NOTHING_REQUIRED, "True NoRequiredImages"),
    ] {
        let condition = ok(
            &env.admin,
            &[
                "get",
                "nodeimage",
                node,
                "-o",
                "jsonpath={.status.conditions[0].status} {.status.conditions[0].reason}",
            ],
        )
        .await;
        assert_eq!(condition.trim(), wanted, "{node}'s ImagesReady");
    }

    for agent in agents {
        agent.stop().await;
    }
}

/// A required ImagePullJob for `image` on `node` alone, one attempt. `type: Never`, as
/// readiness wants: an `Always` job with no node yet would complete at once, before the node
/// it is for joins.
fn required_job(name: &str, image: &str, node: &str) -> String {
    json!({
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "ImagePullJob",
        "metadata": {"name": name, "namespace": NAMESPACE_R,
                     "annotations": {"prepull.io/required-for-readiness": "true"}},
        "spec": {"image": image, "selector": {"names": [node]},
                 "pullPolicy": {"backoffLimit": 0, "timeoutSeconds": 30},
                 "completionPolicy": {"type": "Never"}},
    })
    .to_string()
}

async fn taints(env: &Env, node: &str) -> String {
    ok(
        &env.admin,
        &["get", "node", node, "-o", "jsonpath={.spec.taints}"],
    )
    .await
}

async fn wait_untainted(env: &Env, node: &str) {
    let admin = env.admin.clone();
    eventually("the readiness taint is removed", DECIDED_TIMEOUT, || {
        let admin = admin.clone();
        async move {
            let taints = admin
                .run(&["get", "node", node, "-o", "jsonpath={.spec.taints}"])
                .await?;
            anyhow::ensure!(!taints.contains(TAINT), "taints {taints}");
            Ok(())
        }
    })
    .await
    .unwrap_or_else(|err| panic!("node {node}: {err:#}"));
}

/// Waits until job `name` counts one node under `counter` (`succeeded`, `failed`).
async fn wait_counter(env: &Env, name: &str, counter: &str) {
    let object = format!("imagepulljob/{name}");
    let timeout = format!("--timeout={}s", DECIDED_TIMEOUT.as_secs());
    let condition = format!("--for=jsonpath={{.status.{counter}}}=1");
    ok(
        &env.admin,
        &["wait", "-n", NAMESPACE_R, &condition, &object, &timeout],
    )
    .await;
}
