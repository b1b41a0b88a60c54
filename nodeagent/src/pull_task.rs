//! One tag's pull, from Waiting to Succeeded or Failed: wait for a pull slot, report Pulling
//! with its start time, ask the runtime first under IfNotPresent, then pull with retries
//! (1 s doubling to 30 s between attempts), each attempt bounded by timeoutSeconds and the
//! whole bounded by activeDeadlineSeconds. Where the runtime is containerd, the bytes of the
//! running pull are reported as `progress` ([`crate::download_progress`]); elsewhere it is 0
//! until the pull succeeds, then 100; an attempt whose bytes stop arriving is given up
//! ([`crate::stall_detection`]). While retrying, the message says why the last attempt failed.
//! A pull is not started, or is cancelled, when the image filesystem is below its reserve
//! ([`crate::disk_reserve`]); that failure is final.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use prepull_api::job_template::ImagePullPolicy;
use prepull_api::node_image::{ImagePullPhase, ImageSpec, ImageTagSpec};
use prepull_cri::runtime::v1::{AuthConfig, PodSandboxConfig, PullImageRequest};
use tokio::sync::Semaphore;

use crate::credential_provider::CredentialProviders;
use crate::disk_reserve::DiskReserve;
use crate::docker_config::Credential;
use crate::docker_config_file::DockerConfigFile;
use crate::download_progress::{DownloadProgress, ProgressEstimate};
use crate::handed_credentials::HandedCredentials;
use crate::image_runtime::{ImageRuntime, RuntimeError, image_spec};
use crate::metrics::AgentMetrics;
use crate::stall_detection::{StallClock, stall_period};
use crate::task_table::{NewTask, TaskKey, TaskTable};

/// The annotation naming who pulls, added to every PullImage's sandbox config.
pub const PULLING_IMAGE_BY: &str = "apps.kruise.io/pulling-image-by";
/// Its value.
pub const AGENT_NAME: &str = "prepull-nodeagent";

/// timeoutSeconds when the spec has none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// backoffLimit when the spec has none.
const DEFAULT_BACKOFF_LIMIT: u32 = 3;
/// The first sleep between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest sleep between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How to pull one tag, taken from the spec.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Image name without tag, as in the spec (e.g. `127.0.0.1:5000/team/app`).
    pub image: String,
    /// `name:tag` or `name@sha256:...`.
    pub reference: String,
    /// The spec version being handled.
    pub version: i64,
    /// Pull even when the runtime has the image.
    pub always: bool,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub backoff_limit: u32,
    /// Bound of the whole pull, counted from the moment it leaves Waiting.
    pub active_deadline: Option<Duration>,
    /// Sandbox config labels.
    pub labels: HashMap<String, String>,
    /// Sandbox config annotations (with [`PULLING_IMAGE_BY`]).
    pub annotations: HashMap<String, String>,
    /// Whether the image names pull secrets (whose credentials the API server hands over).
    pub has_pull_secrets: bool,
}

impl TaskSpec {
    /// The task for `tag` of `image`.
    pub fn new(image: &str, image_spec: &ImageSpec, tag: &ImageTagSpec) -> TaskSpec {
        let policy = tag.pull_policy.clone().unwrap_or_default();
        let sandbox = image_spec.sandbox_config.clone().unwrap_or_default();
        let mut annotations: HashMap<String, String> = sandbox.annotations.into_iter().collect();
        annotations.insert(PULLING_IMAGE_BY.to_owned(), AGENT_NAME.to_owned());
        TaskSpec {
            image: image.to_owned(),
            reference: reference(image, &tag.tag),
            version: tag.version,
            always: tag.image_pull_policy == Some(ImagePullPolicy::Always),
            timeout: policy
                .timeout_seconds
                .filter(|s| *s > 0)
                .map_or(DEFAULT_TIMEOUT, |s| {
                    Duration::from_secs(s.unsigned_abs().into())
                }),
            backoff_limit: policy
                .backoff_limit
                .map_or(DEFAULT_BACKOFF_LIMIT, |n| n.max(0).unsigned_abs()),
            active_deadline: policy
                .active_deadline_seconds
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.unsigned_abs())),
            labels: sandbox.labels.into_iter().collect(),
            annotations,
            has_pull_secrets: !image_spec.pull_secrets.is_empty(),
        }
    }
}

/// `image:tag`, or `image@digest` when the "tag" is a digest (`algorithm:hex`).
pub fn reference(image: &str, tag: &str) -> String {
    if tag.contains(':') {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    }
}

/// What every pull shares.
#[derive(Debug)]
pub struct PullContext {
    /// The runtime.
    pub runtime: ImageRuntime,
    /// One permit per concurrent pull.
    pub slots: Semaphore,
    /// Node-level credentials (re-read when the file changes).
    pub credentials: Arc<DockerConfigFile>,
    /// Credential-provider plugins, asked after [`PullContext::credentials`].
    pub providers: Arc<CredentialProviders>,
    /// The job's pull secrets, handed by the API server; tried first.
    pub handed: Option<HandedCredentials>,
    /// Where progress is reported.
    pub table: Arc<TaskTable>,
    /// containerd's download status, when the runtime is containerd.
    pub progress: Option<DownloadProgress>,
    /// Pulls and runtime errors are counted here.
    pub metrics: AgentMetrics,
    /// The stall period unless an annotation says otherwise; `None`: no stall detection.
    pub stall_timeout: Option<Duration>,
    /// The image filesystem's free-space reserve.
    pub disk: DiskReserve,
}

/// Runs `task` to completion or until it is cancelled, reporting into the table.
pub async fn run(context: Arc<PullContext>, task: NewTask) {
    let NewTask { key, spec, cancel } = task;
    tokio::select! {
        () = cancel.cancelled() => {
            tracing::info!(image = %spec.reference, version = spec.version, "pull cancelled");
        }
        () = pull_to_completion(&context, &key, &spec) => {}
    }
}

async fn pull_to_completion(context: &PullContext, key: &TaskKey, spec: &TaskSpec) {
    let Ok(_slot) = context.slots.acquire().await else {
        return;
    };
    context.table.update(key, spec.version, |status| {
        status.phase = ImagePullPhase::Pulling;
        status.start_time = Some(now());
        status.progress = 0;
        status.message.clear();
    });
    tracing::info!(image = %spec.reference, version = spec.version, "pulling");
    let started = tokio::time::Instant::now();
    let outcome = match spec.active_deadline {
        Some(deadline) => tokio::time::timeout(deadline, attempts(context, key, spec))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "pull did not finish within activeDeadlineSeconds ({}s)",
                    deadline.as_secs()
                ))
            }),
        None => attempts(context, key, spec).await,
    };
    context
        .metrics
        .pull_finished(outcome.is_ok(), started.elapsed());
    match &outcome {
        Ok(id) => tracing::info!(image = %spec.reference, image_id = %id, "pulled"),
        Err(message) => tracing::warn!(image = %spec.reference, message, "pull failed"),
    }
    context.table.update(key, spec.version, |status| {
        status.completion_time = Some(now());
        match outcome {
            Ok(id) => {
                status.phase = ImagePullPhase::Succeeded;
                status.progress = 100;
                status.image_id = id;
                status.message.clear();
            }
            Err(message) => {
                status.phase = ImagePullPhase::Failed;
                status.message = message;
            }
        }
    });
}

/// The image id, or the last attempt's error followed by how many attempts were made.
async fn attempts(context: &PullContext, key: &TaskKey, spec: &TaskSpec) -> Result<String, String> {
    if !spec.always {
        match context.runtime.image_id(&spec.reference).await {
            Ok(Some(id)) => return Ok(id),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(image = %spec.reference, %err, "ImageStatus failed; pulling")
            }
        }
    }
    if let Err(below) = context.disk.before_pull(&context.runtime).await {
        context.metrics.disk_reserve_failure();
        return Err(below.to_string());
    }
    let mut credentials = match &context.handed {
        Some(handed) if spec.has_pull_secrets => handed.fetch(&spec.image).await,
        _ => Vec::new(),
    };
    credentials.extend(context.credentials.matching(&spec.image));
    credentials.extend(context.providers.credentials(&spec.reference).await);
    // One estimate across attempts: containerd resumes a layer download a failed attempt left.
    let mut estimate = match &context.progress {
        Some(progress) => progress.start_estimate().await,
        None => ProgressEstimate::default(),
    };
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match pull_once(context, key, spec, &credentials, &mut estimate).await {
            Ok(id) => return Ok(id),
            Err(err @ RuntimeError::Disk(_)) => {
                context.metrics.disk_reserve_failure();
                return Err(err.to_string());
            }
            Err(err) if attempt > spec.backoff_limit => {
                return Err(format!("{err} (after {attempt} attempts)"));
            }
            Err(err) => {
                tracing::info!(image = %spec.reference, attempt, %err, ?delay, "pull failed; retrying");
                let attempts = spec.backoff_limit.saturating_add(1);
                context.table.update(key, spec.version, |status| {
                    status.message =
                        format!("{err}; retrying (attempt {} of {attempts})", attempt + 1);
                });
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One attempt: the requests of [`pull_requests`] in turn until one succeeds, reporting
/// download progress into the table while each runs (containerd only).
async fn pull_once(
    context: &PullContext,
    key: &TaskKey,
    spec: &TaskSpec,
    credentials: &[Credential],
    estimate: &mut ProgressEstimate,
) -> Result<String, RuntimeError> {
    let mut last_error = None;
    let period = stall_period(&spec.annotations, context.stall_timeout);
    for request in pull_requests(spec, credentials) {
        let pull = context.runtime.pull(request, spec.timeout);
        let result = match &context.progress {
            Some(progress) => {
                let mut stall = period
                    .map(|period| StallClock::start(period, estimate, tokio::time::Instant::now()));
                let report = |percent: u8| {
                    context.table.update(key, spec.version, |status| {
                        status.progress = percent.into();
                    });
                };
                let guard = |estimate: &ProgressEstimate| -> Result<(), RuntimeError> {
                    if let Some(clock) = &mut stall {
                        clock.observe(estimate, tokio::time::Instant::now())?;
                    }
                    context.disk.during_pull(estimate.pending_bytes())?;
                    Ok(())
                };
                match progress.while_pulling(estimate, pull, report, guard).await {
                    Ok(result) => result,
                    Err(interrupted) => {
                        if matches!(interrupted, RuntimeError::Stalled(_)) {
                            context.metrics.pull_stalled();
                        }
                        // Not a credential problem: the next credential would fare the same.
                        return Err(interrupted);
                    }
                }
            }
            None => pull.await,
        };
        match result {
            Ok(id) => return Ok(id),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.expect("pull_requests returns at least one request"))
}

/// The PullImage requests of one attempt at `spec`: one per credential in `credentials` (those
/// matching the image, in the order to try), or a single anonymous one when there are none.
/// Each carries the sandbox config's labels and annotations (with [`PULLING_IMAGE_BY`]).
///
/// `server_address` stays empty: containerd rejects a bare `host:port` there and drops
/// credentials whose address does not match, while empty means "the host this pull contacts".
pub fn pull_requests(spec: &TaskSpec, credentials: &[Credential]) -> Vec<PullImageRequest> {
    let request = |auth: Option<AuthConfig>| PullImageRequest {
        image: Some(image_spec(&spec.reference)),
        auth,
        sandbox_config: Some(PodSandboxConfig {
            labels: spec.labels.clone(),
            annotations: spec.annotations.clone(),
            ..PodSandboxConfig::default()
        }),
    };
    if credentials.is_empty() {
        return vec![request(None)];
    }
    credentials
        .iter()
        .map(|credential| {
            request(Some(AuthConfig {
                username: credential.username.clone(),
                password: credential.password.clone(),
                ..AuthConfig::default()
            }))
        })
        .collect()
}

/// Now, to the second (status times are RFC 3339 with seconds).
fn now() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker_config::DockerConfig;

    #[test]
    fn a_digest_tag_makes_a_digest_reference() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            reference("reg:5000/app", digest),
            format!("reg:5000/app@{digest}")
        );
        assert_eq!(reference("reg:5000/app", "v1"), "reg:5000/app:v1");
    }

    #[test]
    fn defaults_apply_and_the_agent_annotation_is_added() {
        let tag = ImageTagSpec {
            tag: "v1".into(),
            ..ImageTagSpec::default()
        };
        let spec = TaskSpec::new("nginx", &ImageSpec::default(), &tag);
        assert_eq!(spec.timeout, DEFAULT_TIMEOUT);
        assert_eq!(spec.backoff_limit, DEFAULT_BACKOFF_LIMIT);
        assert!(!spec.always);
        assert_eq!(spec.annotations[PULLING_IMAGE_BY], AGENT_NAME);
    }

    /// The task for `tag` of `image` whose spec is `image_spec` (JSON, as in a NodeImage).
    fn task(image: &str, image_spec: serde_json::Value, tag: &str) -> TaskSpec {
        let image_spec: ImageSpec = serde_json::from_value(image_spec).expect("an image spec");
        let tag = ImageTagSpec {
            tag: tag.into(),
            ..ImageTagSpec::default()
        };
        TaskSpec::new(image, &image_spec, &tag)
    }

    fn docker_config() -> DockerConfig {
        DockerConfig::parse(
            r#"{"auths": {"https://reg.example:5000/team/app": {"username": "bob", "password": "pw"}}}"#,
        )
        .expect("a docker config")
    }

    #[test]
    fn a_pull_request_carries_the_sandbox_labels_annotations_and_the_agent_annotation() {
        let spec = task(
            "reg.example:5000/team/app",
            serde_json::json!({
                "sandboxConfig": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "tags": [],
            }),
            "v1",
        );
        let [request] = pull_requests(&spec, &[]).try_into().expect("one request");
        assert_eq!(
            request.image.expect("an image").image,
            "reg.example:5000/team/app:v1"
        );
        let sandbox = request.sandbox_config.expect("a sandbox config");
        assert_eq!(sandbox.labels, HashMap::from([("team".into(), "a".into())]));
        assert_eq!(
            sandbox.annotations,
            HashMap::from([
                ("note".into(), "x".into()),
                (PULLING_IMAGE_BY.into(), AGENT_NAME.into()),
            ])
        );
        assert_eq!(PULLING_IMAGE_BY, "apps.kruise.io/pulling-image-by");
        assert!(request.auth.is_none());
    }

    #[test]
    fn a_matching_credential_is_sent_with_an_empty_server_address() {
        let image = "reg.example:5000/team/app";
        let spec = task(image, serde_json::json!({"tags": []}), "v1");
        let credentials = docker_config().matching(image);
        let [request] = pull_requests(&spec, &credentials)
            .try_into()
            .expect("one request per credential");
        let auth = request.auth.expect("credentials sent");
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("bob", "pw")
        );
        assert_eq!(auth.server_address, "");
    }

    #[test]
    fn a_credential_for_one_repository_path_is_not_sent_for_another() {
        let image = "reg.example:5000/team/hangs";
        let spec = task(image, serde_json::json!({"tags": []}), "v1");
        let credentials = docker_config().matching(image);
        assert!(credentials.is_empty(), "{credentials:?}");
        let [request] = pull_requests(&spec, &credentials)
            .try_into()
            .expect("one anonymous request");
        assert!(request.auth.is_none(), "{request:?}");
    }

    #[test]
    fn each_matching_credential_gets_its_own_request_in_order() {
        let spec = task("reg:5000/app", serde_json::json!({"tags": []}), "v1");
        let credentials = [
            Credential {
                username: "first".into(),
                password: "1".into(),
            },
            Credential {
                username: "second".into(),
                password: "2".into(),
            },
        ];
        let users: Vec<String> = pull_requests(&spec, &credentials)
            .into_iter()
            .map(|r| r.auth.expect("credentials sent").username)
            .collect();
        assert_eq!(users, ["first", "second"]);
    }

    #[test]
    fn a_digest_tag_is_pulled_by_digest() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let spec = task("reg:5000/app", serde_json::json!({"tags": []}), digest);
        let [request] = pull_requests(&spec, &[]).try_into().expect("one request");
        assert_eq!(
            request.image.expect("an image").image,
            format!("reg:5000/app@{digest}")
        );
    }
}
