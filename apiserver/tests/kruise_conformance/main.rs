//! OpenKruise v1.9 itself and Prepull, side by side on the same machine and the same images:
//! Kruise's CRDs on a real kube-apiserver with kruise-manager (controllers and webhook) and a
//! kruise-daemon per node on its own containerd; Prepull standalone with a prepull-nodeagent
//! per node on its own containerd; one registry for both. The same nodes (`node-1` zone=a,
//! `node-2` zone=b) on both sides.
//!
//! Every example in `examples/` is created in both systems; once every job has finished (or,
//! for the `Never` job, pulled on every node), `kubectl get -o json` of each job and of each
//! NodeImage is compared field by field. Every difference must be one of [`intended`] (the
//! README's "Intended differences from OpenKruise"), and every listed difference must still
//! occur. Then the same bad objects go to both (see [`validation`]).
//!
//! Needs `tests/kruise/build.sh` (OpenKruise built once, cached), `tests/kube/build.sh`,
//! etcd, containerd and docker-registry (all installed or built by `tests/run.sh`).

mod intended;
mod json_diff;
mod known_bugs;
mod kruise_side;
mod validation;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kruise_side::KruiseSide;
use prepull_testbed::system::{Binaries, System};
use prepull_testbed::{Kubectl, eventually};
use serde_json::Value;

/// The nodes of both systems, as `examples/README.md` names them.
const NODES: &[(&str, &[(&str, &str)])] =
    &[("node-1", &[("zone", "a")]), ("node-2", &[("zone", "b")])];

/// The examples created in both systems (every file in `examples/`).
const EXAMPLES: &[&str] = &[
    "image-pull-job.yaml",
    "image-pull-job-by-name.yaml",
    "image-pull-job-by-label.yaml",
    "image-pull-job-deadline.yaml",
    "image-pull-job-never.yaml",
    "image-pull-job-missing-image.yaml",
    "image-list-pull-job.yaml",
];

/// The registry address the examples are written for (`run/up.sh`'s demo registry).
const EXAMPLE_REGISTRY: &str = "127.0.0.1:5000";

/// How long every job may take to finish in both systems (Kruise's daemon reports a finished
/// pull a few seconds late; the missing image fails after its retries).
const FINISH_TIMEOUT: Duration = Duration::from_secs(180);

/// The resource names with their version, so both servers answer in v1alpha1 (kube-apiserver
/// would otherwise pick Kruise's storage version v1beta1).
const IMAGE_PULL_JOBS: &str = "imagepulljobs.v1alpha1.apps.kruise.io";
const IMAGE_LIST_PULL_JOBS: &str = "imagelistpulljobs.v1alpha1.apps.kruise.io";
const NODE_IMAGES: &str = "nodeimages.v1alpha1.apps.kruise.io";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openkruise_and_prepull_agree_on_the_examples_and_on_bad_objects() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("prepull-kruise-conformance-")
        .tempdir()
        .expect("temp dir");
    let binaries = Binaries::beside_current_exe(true)
        .await
        .expect("the Prepull binaries");
    let ours = System::start(dir.path(), binaries, &[], NODES)
        .await
        .expect("Prepull starts");
    let registry = ours.registry.host_port();
    ours.push_image("demo/hello", "v2").await.expect("push v2");
    let kruise = KruiseSide::start(&registry, NODES)
        .await
        .expect("OpenKruise starts");
    println!("both systems up in {:.1?}", started.elapsed());

    let result = compare(&kruise, &ours, &registry).await;
    println!("compared in {:.1?}", started.elapsed());
    if let Err(error) = result {
        panic!(
            "{error:#}\n{}\n--- Prepull ---\n{}",
            kruise.logs(),
            ours.logs()
        );
    }
}

async fn compare(kruise: &KruiseSide, ours: &System, registry: &str) -> anyhow::Result<()> {
    let (kruise_kubectl, our_kubectl) = (kruise.kubectl(), ours.kubectl().clone());
    for example in EXAMPLES {
        let manifest = example_manifest(example, registry)?;
        for (side, kubectl) in [("OpenKruise", &kruise_kubectl), ("Prepull", &our_kubectl)] {
            kubectl
                .run_with_stdin(&["create", "-f", "-"], Some(&manifest))
                .await
                .with_context(|| format!("{side} refused examples/{example}"))?;
        }
    }
    let (kruise_jobs, our_jobs) = tokio::try_join!(
        wait_until_finished("OpenKruise", &kruise_kubectl),
        wait_until_finished("Prepull", &our_kubectl),
    )?;

    let mut observed = BTreeSet::new();
    let mut report = String::new();
    for (object, kruise_object) in &kruise_jobs {
        let our_object = our_jobs
            .iter()
            .find(|(name, _)| name == object)
            .map(|(_, value)| value)
            .with_context(|| format!("Prepull has no {object}"))?;
        record(
            object,
            &without_registry(kruise_object, registry)?,
            &without_registry(our_object, registry)?,
            &mut observed,
            &mut report,
        );
    }
    for (node, _) in NODES {
        let kruise_image = get_json(&kruise_kubectl, &[NODE_IMAGES, node]).await?;
        let our_image = get_json(&our_kubectl, &[NODE_IMAGES, node]).await?;
        record(
            &format!("nodeimage/{node}"),
            &canonical_node_image(without_registry(&kruise_image, registry)?),
            &canonical_node_image(without_registry(&our_image, registry)?),
            &mut observed,
            &mut report,
        );
    }
    println!("differences seen:\n{report}");

    let unlisted: Vec<_> = observed
        .iter()
        .filter(|(object, path)| {
            !intended::DIFFERENCES.iter().any(|(o, p, _)| {
                intended::glob_matches(o, object) && intended::glob_matches(p, path)
            })
        })
        .collect();
    let gone: Vec<_> = intended::DIFFERENCES
        .iter()
        .filter(|(o, p, _)| {
            !observed.iter().any(|(object, path)| {
                intended::glob_matches(o, object) && intended::glob_matches(p, path)
            })
        })
        .map(|(o, p, _)| (o, p))
        .collect();

    let mut verdicts = String::new();
    let mut wrong_verdicts = Vec::new();
    for (case, manifest) in validation::cases() {
        let name = format!("bad-{}", verdicts.lines().count());
        let manifest = manifest.replace("NAME", &name);
        let kruise_answer = validation::answer(&kruise_kubectl, &manifest).await;
        let our_answer = validation::answer(&our_kubectl, &manifest).await;
        let show =
            |answer: &Option<String>| answer.clone().unwrap_or_else(|| String::from("accepted"));
        verdicts.push_str(&format!(
            "| {} | {} | {} |\n",
            case.name,
            show(&kruise_answer),
            show(&our_answer)
        ));
        if kruise_answer.is_some() != case.kruise_refuses
            || our_answer.is_some() != case.ours_refuses
        {
            wrong_verdicts.push(case.name);
        }
    }
    println!("validation, side by side:\n{verdicts}");

    let nodes = i64::try_from(NODES.len())?;
    let bugs = known_bugs::reproduce(&kruise_kubectl, &our_kubectl, &ours.registry, nodes).await;
    match &bugs {
        Ok(report) => println!("known OpenKruise bugs:\n{report}"),
        Err(error) => println!("known OpenKruise bugs: {error:#}"),
    }

    if !unlisted.is_empty() || !gone.is_empty() || !wrong_verdicts.is_empty() || bugs.is_err() {
        bail!(
            "differences not in the intended list: {unlisted:?}\n\
             listed differences that no longer occur: {gone:?}\n\
             validation verdicts that changed: {wrong_verdicts:?}\n\
             known bugs: {:?}\n\
             all differences:\n{report}\nverdicts:\n{verdicts}",
            bugs.err().map(|error| format!("{error:#}"))
        );
    }
    Ok(())
}

/// The example file with its registry replaced by the test's.
fn example_manifest(file: &str, registry: &str) -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.replace(EXAMPLE_REGISTRY, registry))
}

/// Adds the differences between the two forms of `object` to `observed` and `report`.
fn record(
    object: &str,
    kruise: &Value,
    ours: &Value,
    observed: &mut BTreeSet<(String, String)>,
    report: &mut String,
) {
    for difference in json_diff::differences(kruise, ours) {
        let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "(absent)".into());
        report.push_str(&format!(
            "  {object} {}: OpenKruise {} / Prepull {}\n",
            difference.path,
            show(&difference.kruise),
            show(&difference.ours)
        ));
        observed.insert((object.to_owned(), difference.path));
    }
}

/// Waits until every job is finished: `completionTime` set, or for a `Never` job every
/// targeted node succeeded. Returns `("<kind>/<name>", object)` for every job created from
/// an example (children of the list job are compared through their parent).
async fn wait_until_finished(
    side: &str,
    kubectl: &Kubectl,
) -> anyhow::Result<Vec<(String, Value)>> {
    eventually(
        &format!("every job finishes in {side}"),
        FINISH_TIMEOUT,
        || async move {
            let jobs = get_json(kubectl, &[IMAGE_PULL_JOBS, "-n", "default"]).await?;
            let lists = get_json(kubectl, &[IMAGE_LIST_PULL_JOBS, "-n", "default"]).await?;
            let mut finished = Vec::new();
            let mut waiting = Vec::new();
            for (kind, list) in [("imagepulljob", &jobs), ("imagelistpulljob", &lists)] {
                for item in list["items"].as_array().into_iter().flatten() {
                    let name = item["metadata"]["name"].as_str().unwrap_or_default();
                    let status = &item["status"];
                    let never = item["spec"]["completionPolicy"]["type"] == "Never";
                    let done = if never {
                        status["desired"].as_i64().is_some_and(|d| d > 0)
                            && status["succeeded"] == status["desired"]
                    } else {
                        status.get("completionTime").is_some_and(|t| !t.is_null())
                    };
                    let child = item["metadata"]["ownerReferences"].is_array();
                    if !done {
                        waiting.push(format!("{kind}/{name}: {status}"));
                    } else if !child {
                        finished.push((format!("{kind}/{name}"), item.clone()));
                    }
                }
            }
            if finished.len() < EXAMPLES.len() || !waiting.is_empty() {
                bail!("{} finished; still waiting: {waiting:?}", finished.len());
            }
            finished.sort_by(|a, b| a.0.cmp(&b.0));
            Ok::<_, anyhow::Error>(finished)
        },
    )
    .await
}

/// `object` with the test registry's `host:port` written `REGISTRY` (in keys and values), so
/// paths do not depend on the port.
fn without_registry(object: &Value, registry: &str) -> anyhow::Result<Value> {
    let text = object.to_string().replace(registry, "REGISTRY");
    Ok(serde_json::from_str(&text)?)
}

async fn get_json(kubectl: &Kubectl, what: &[&str]) -> anyhow::Result<Value> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    let text = kubectl.run(&args).await?;
    serde_json::from_str(&text).with_context(|| format!("kubectl get {what:?} printed no JSON"))
}

/// A NodeImage with what differs for reasons of timing or chance only made comparable: each
/// tag's ownerReferences sorted by name, the generated names of the list job's children
/// replaced by `<list-name>-<generated>`, and `pullPolicy.ttlSecondsAfterFinished` shown as
/// `<ttl>` (OpenKruise adds a random 0-300 s to it; its presence still counts).
fn canonical_node_image(mut image: Value) -> Value {
    if let Some(images) = image["spec"]["images"].as_object_mut() {
        for spec in images.values_mut() {
            for tag in spec["tags"].as_array_mut().into_iter().flatten() {
                if let Some(ttl) = tag["pullPolicy"].get_mut("ttlSecondsAfterFinished") {
                    *ttl = Value::from("<ttl>");
                }
                if let Some(owners) = tag["ownerReferences"].as_array_mut() {
                    for owner in owners.iter_mut() {
                        if let Some(name) = owner["name"].as_str()
                            && let Some(list) = name.strip_prefix("pull-hello-tags-")
                            && !list.is_empty()
                        {
                            owner["name"] = Value::from("pull-hello-tags-<generated>");
                        }
                    }
                    owners.sort_by(|a, b| a["name"].to_string().cmp(&b["name"].to_string()));
                }
            }
        }
    }
    image
}
