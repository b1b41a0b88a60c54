//! Carries an ImagePullJob's `prepull.io/stall-timeout-seconds` annotation to its nodes. A
//! NodeImage tag has no field for it (the API stays OpenKruise's), so it travels in the image's
//! `sandboxConfig.annotations` in the NodeImage spec, where the node agent reads it (and which
//! the CRI ignores). The agent checks the value: a whole number of seconds, 0 to turn stall
//! detection off for the job; anything else leaves the agent's `--stall-timeout-seconds`.

use prepull_api::ImagePullJob;
use prepull_api::job_template::SandboxConfig;

/// The annotation, on an ImagePullJob and in a NodeImage image's sandbox config.
pub const STALL_TIMEOUT_ANNOTATION: &str = "prepull.io/stall-timeout-seconds";

/// The sandbox config to send `job`'s nodes: the template's, with the job's stall timeout
/// annotation added when it has one.
pub fn sandbox_config_with_stall_timeout(job: &ImagePullJob) -> Option<SandboxConfig> {
    let template = job.spec.template.sandbox_config.clone();
    let Some(value) = job
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(STALL_TIMEOUT_ANNOTATION))
    else {
        return template;
    };
    let mut sandbox = template.unwrap_or_default();
    sandbox
        .annotations
        .insert(STALL_TIMEOUT_ANNOTATION.to_owned(), value.clone());
    Some(sandbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(annotations: serde_json::Value, sandbox: serde_json::Value) -> ImagePullJob {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps.kruise.io/v1alpha1",
            "kind": "ImagePullJob",
            "metadata": {"name": "j", "namespace": "default", "annotations": annotations},
            "spec": {"image": "nginx:1", "sandboxConfig": sandbox},
        }))
        .expect("a job")
    }

    #[test]
    fn the_annotation_joins_the_templates_sandbox_annotations() {
        let job = job(
            serde_json::json!({STALL_TIMEOUT_ANNOTATION: "30"}),
            serde_json::json!({"annotations": {"team": "a"}}),
        );
        let sandbox = sandbox_config_with_stall_timeout(&job).expect("a sandbox config");
        assert_eq!(sandbox.annotations[STALL_TIMEOUT_ANNOTATION], "30");
        assert_eq!(sandbox.annotations["team"], "a");
    }

    #[test]
    fn without_the_annotation_the_template_is_sent_as_it_is() {
        let job = job(serde_json::json!({}), serde_json::Value::Null);
        assert_eq!(sandbox_config_with_stall_timeout(&job), None);
    }
}
