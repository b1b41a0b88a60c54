//! Rendered manifests as comparable objects: each document decoded by kubectl itself (so YAML
//! details such as `0440` octal modes read as Kubernetes reads them), keyed by kind, namespace
//! and name, without the labels only Helm adds.

use std::collections::BTreeMap;

use prepull_testbed::Kubectl;
use serde_json::Value;

/// Labels Helm puts on every object for its own bookkeeping (`manifests/` has none of them).
pub const HELM_LABELS: [&str; 3] = [
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "helm.sh/chart",
];

/// `kind/namespace/name` → object.
pub type Objects = BTreeMap<String, Value>;

/// The objects of a multi-document manifest, decoded by `kubectl create --dry-run=client`.
pub async fn decode(kubectl: &Kubectl, manifest: &str) -> Objects {
    let out = kubectl
        .run_with_stdin(
            &["create", "--dry-run=client", "-o", "json", "-f", "-"],
            Some(manifest),
        )
        .await
        .unwrap_or_else(|err| panic!("{err:#}"));
    // kubectl prints one List, or (some versions) one object after another.
    let mut items = Vec::new();
    for printed in serde_json::Deserializer::from_str(&out).into_iter::<Value>() {
        let printed = printed.expect("kubectl prints JSON");
        match printed.get("kind").and_then(Value::as_str) {
            Some("List") => items.extend(printed["items"].as_array().cloned().unwrap_or_default()),
            _ => items.push(printed),
        }
    }
    let mut objects = Objects::new();
    for mut item in items {
        strip_helm_labels(&mut item);
        unwrap_base64(&mut item);
        let key = format!(
            "{}/{}/{}",
            item["kind"].as_str().unwrap_or_default(),
            item["metadata"]["namespace"].as_str().unwrap_or_default(),
            item["metadata"]["name"].as_str().unwrap_or_default()
        );
        assert!(
            objects.insert(key.clone(), item).is_none(),
            "{key} rendered twice"
        );
    }
    objects
}

/// Base64 fields (an APIService's `caBundle`, a Secret's `data`) without line breaks:
/// kubectl's kustomize (seen: kubectl 1.35) wraps the base64 it generates at 76 columns, Helm
/// does not; kube-apiserver decodes both to the same bytes.
fn unwrap_base64(object: &mut Value) {
    let unwrap = |value: &mut Value| {
        if let Value::String(text) = value {
            text.retain(|c| !c.is_ascii_whitespace());
        }
    };
    if let Some(bundle) = object.pointer_mut("/spec/caBundle") {
        unwrap(bundle);
    }
    if object["kind"] == "Secret"
        && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
    {
        data.values_mut().for_each(unwrap);
    }
}

fn strip_helm_labels(object: &mut Value) {
    if let Some(labels) = object
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        for label in HELM_LABELS {
            labels.remove(label);
        }
    }
}

/// An embedded YAML document (e.g. a ConfigMap's file) replaced by its parsed value, so that
/// comments and layout do not count.
pub fn parse_embedded_yaml(objects: &mut Objects, key: &str, pointer: &str) {
    let object = objects
        .get_mut(key)
        .unwrap_or_else(|| panic!("{key} missing"));
    let field = object
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{key} has no {pointer}"));
    let text = field.as_str().expect("a string field").to_string();
    *field = serde_norway::from_str::<Value>(&text).expect("the field holds YAML");
}

/// Every difference between two sets of objects, one line per object, empty when equal.
pub fn differences(left: &Objects, right: &Objects) -> Vec<String> {
    let mut out = Vec::new();
    for key in left.keys().chain(right.keys()) {
        match (left.get(key), right.get(key)) {
            (Some(a), Some(b)) if a != b => out.push(format!(
                "{key} differs:\n  kustomize: {a}\n  helm:      {b}"
            )),
            (Some(_), None) => out.push(format!("{key} only in kustomize")),
            (None, Some(_)) => out.push(format!("{key} only in helm")),
            _ => {}
        }
    }
    out.dedup();
    out
}
