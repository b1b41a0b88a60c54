//! kubectl steps the cases share: apply a manifest, read an object as JSON, wait.

use crate::Kubectl;
use anyhow::{Context, bail};
use serde_json::Value;

/// `kubectl apply -f -` with `manifest` (YAML, several documents allowed).
pub async fn apply(kubectl: &Kubectl, manifest: &str) -> anyhow::Result<String> {
    kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .await
}

/// `kubectl get <what> -o json`, parsed.
pub async fn get_json(kubectl: &Kubectl, what: &[&str]) -> anyhow::Result<Value> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", "json"]);
    let text = kubectl.run(&args).await?;
    serde_json::from_str(&text).with_context(|| format!("kubectl get output {text}"))
}

/// The status of ImagePullJob `name`.
pub async fn job_status(kubectl: &Kubectl, name: &str) -> anyhow::Result<Value> {
    Ok(get_json(kubectl, &["imagepulljob", name]).await?["status"].clone())
}

/// `kubectl wait --for=<condition> <object> --timeout=<seconds>s`.
pub async fn wait_for(
    kubectl: &Kubectl,
    condition: &str,
    object: &str,
    seconds: u32,
) -> anyhow::Result<()> {
    let timeout = format!("--timeout={seconds}s");
    let condition_flag = format!("--for={condition}");
    let mut args = vec!["wait", condition_flag.as_str()];
    args.extend(object.split_whitespace());
    args.push(&timeout);
    let out = kubectl
        .run(&args)
        .await
        .with_context(|| format!("kubectl wait --for={condition} {object}"))?;
    if out.trim().is_empty() {
        bail!("kubectl wait printed nothing");
    }
    Ok(())
}

/// The counters of a job status: (desired, succeeded, failed, active).
pub fn counters(status: &Value) -> (i64, i64, i64, i64) {
    let n = |key: &str| status[key].as_i64().unwrap_or(-1);
    (n("desired"), n("succeeded"), n("failed"), n("active"))
}

/// A job manifest: ImagePullJob `name` in `default` with `spec` (a YAML mapping, indented
/// by two spaces) after `image`.
pub fn job(name: &str, image: &str, spec: &str) -> String {
    format!(
        "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  image: {image}\n{spec}"
    )
}

/// Owner names of the tag of `image` (`repo:tag`) on NodeImage `node`, and the tag's spec
/// version (0 when absent).
pub async fn tag_owners(
    kubectl: &Kubectl,
    node: &str,
    image: &str,
) -> anyhow::Result<(Vec<String>, i64)> {
    let (name, tag) = image.rsplit_once(':').context("image:tag")?;
    let object = get_json(kubectl, &["nodeimage", node]).await?;
    let Some(tags) = object["spec"]["images"][name]["tags"].as_array() else {
        return Ok((Vec::new(), 0));
    };
    let Some(entry) = tags.iter().find(|t| t["tag"] == tag) else {
        return Ok((Vec::new(), 0));
    };
    let mut owners: Vec<String> = entry["ownerReferences"]
        .as_array()
        .map(|owners| {
            owners
                .iter()
                .filter_map(|o| o["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    owners.sort();
    Ok((owners, entry["version"].as_i64().unwrap_or(0)))
}

/// The status entry (phase, version, message) of `image` (`repo:tag`) on NodeImage `node`.
pub async fn tag_status(
    kubectl: &Kubectl,
    node: &str,
    image: &str,
) -> anyhow::Result<Option<(String, i64, String)>> {
    let (name, tag) = image.rsplit_once(':').context("image:tag")?;
    let object = get_json(kubectl, &["nodeimage", node]).await?;
    let entry = object["status"]["imageStatuses"][name]["tags"]
        .as_array()
        .and_then(|tags| tags.iter().find(|t| t["tag"] == tag).cloned());
    Ok(entry.map(|t| {
        (
            t["phase"].as_str().unwrap_or_default().to_owned(),
            t["version"].as_i64().unwrap_or(0),
            t["message"].as_str().unwrap_or_default().to_owned(),
        )
    }))
}
