//! [`EventRecorder`]: Events (events.k8s.io/v1) in the main cluster about our objects:
//! ImagePullJobs (in their namespace) and NodeImages (cluster-scoped, so in `default`).
//! kube-rs's `Recorder` folds repeats of the same event into a series instead of new objects.
//! Recording is best effort: a failure is logged, never returned.

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prepull_api::{ApiVersion, Kind};

/// Deadline of one Event write.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The controller name on our Events.
pub const REPORTING_CONTROLLER: &str = "prepull-apiserver";

/// Reason of the warning for a job's pull secret that does not exist.
pub const PULL_SECRET_NOT_FOUND: &str = "PullSecretNotFound";
/// Reason of the event for a NodeImage made for a Node.
pub const NODE_IMAGE_CREATED: &str = "NodeImageCreated";

/// The object an Event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regarding {
    /// One of ours; `None`: a core v1 Node of the main cluster.
    pub kind: Option<Kind>,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
}

impl Regarding {
    /// ImagePullJob `namespace`/`name`.
    pub fn job(namespace: &str, name: &str, uid: Option<String>) -> Regarding {
        Regarding {
            kind: Some(Kind::ImagePullJob),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            uid,
        }
    }

    /// NodeImage `name`.
    pub fn node_image(name: &str, uid: Option<String>) -> Regarding {
        Regarding {
            kind: Some(Kind::NodeImage),
            namespace: None,
            name: name.to_owned(),
            uid,
        }
    }

    /// The main cluster's Node `name` (`kubectl describe node` shows its Events).
    pub fn node(name: &str, uid: Option<String>) -> Regarding {
        Regarding {
            kind: None,
            namespace: None,
            name: name.to_owned(),
            uid,
        }
    }

    fn reference(&self) -> ObjectReference {
        let (api_version, kind) = match self.kind {
            Some(kind) => (
                ApiVersion::PREFERRED.api_version().to_owned(),
                kind.info().name.to_owned(),
            ),
            None => ("v1".to_owned(), "Node".to_owned()),
        };
        ObjectReference {
            api_version: Some(api_version),
            kind: Some(kind),
            namespace: self.namespace.clone(),
            name: Some(self.name.clone()),
            uid: self.uid.clone(),
            ..ObjectReference::default()
        }
    }
}

/// Records Events as this replica.
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder").finish_non_exhaustive()
    }
}

impl EventRecorder {
    /// Events reported by [`REPORTING_CONTROLLER`], instance `instance` (the replica).
    pub fn new(client: kube::Client, instance: &str) -> EventRecorder {
        let reporter = Reporter {
            controller: REPORTING_CONTROLLER.to_owned(),
            instance: Some(instance.to_owned()),
        };
        EventRecorder {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// A Normal event.
    pub async fn normal(&self, regarding: &Regarding, reason: &str, action: &str, note: String) {
        self.publish(regarding, EventType::Normal, reason, action, note)
            .await;
    }

    /// A Warning event.
    pub async fn warning(&self, regarding: &Regarding, reason: &str, action: &str, note: String) {
        self.publish(regarding, EventType::Warning, reason, action, note)
            .await;
    }

    async fn publish(
        &self,
        regarding: &Regarding,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        let reference = regarding.reference();
        match tokio::time::timeout(EVENT_TIMEOUT, self.recorder.publish(&event, &reference)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(object = %regarding.name, reason, %err, "recording an event failed")
            }
            Err(_) => {
                tracing::warn!(object = %regarding.name, reason, "recording an event timed out")
            }
        }
    }
}
