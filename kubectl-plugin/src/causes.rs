//! Why pulls failed: the runtime's and the scheduler's messages sorted into the causes of the
//! FAQ, each with what to do.

use serde::Serialize;

/// A cause of failed pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Cause {
    /// The registry has no such repository, tag or digest.
    MissingImage,
    /// The registry refused the credentials (or got none).
    Auth,
    /// A pull attempt or the job ran out of time.
    Timeout,
    /// The node's agent never acknowledged the task.
    NodeNotResponding,
    /// The job names a node that has no NodeImage (no such node, or no agent ever ran there).
    NoSuchNode,
    /// Anything else the runtime said.
    Other,
}

impl Cause {
    /// A short title.
    pub fn title(self) -> &'static str {
        match self {
            Cause::MissingImage => "image not found",
            Cause::Auth => "registry authentication",
            Cause::Timeout => "timeout",
            Cause::NodeNotResponding => "node not responding",
            Cause::NoSuchNode => "no such node",
            Cause::Other => "other error",
        }
    }

    /// What to do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Cause::MissingImage => {
                "The registry has no such repository, tag or digest. Check spec.image for typos \
                 and that the tag was pushed (e.g. `skopeo inspect docker://IMAGE`); a job's image \
                 cannot change once it completed: create a new job."
            }
            Cause::Auth => {
                "The registry refused the pull (401/403). Put a kubernetes.io/dockerconfigjson \
                 Secret in the job's namespace and name it in spec.pullSecrets, or configure a \
                 credential provider for the agents; check the Secret's registry host matches \
                 the image's."
            }
            Cause::Timeout => {
                "A pull attempt or the job ran out of time. Raise \
                 spec.pullPolicy.timeoutSeconds (per attempt) or spec.activeDeadlineSeconds, or \
                 lower spec.parallelism; check the registry is reachable from the nodes."
            }
            Cause::NodeNotResponding => {
                "The node's agent did not pick up the task within the scheduler's acknowledgement \
                 timeout. Check the agent's pod on that node (`kubectl -n prepull-system get pods \
                 -o wide`), its logs and its /healthz."
            }
            Cause::NoSuchNode => {
                "The job lists a node that has no NodeImage: the node does not exist (check \
                 spec.selector.names) or no agent has ever registered it."
            }
            Cause::Other => {
                "The container runtime's message says what went wrong; see the node's NodeImage \
                 (`kubectl get nodeimage NODE -o yaml`) and the agent's logs."
            }
        }
    }
}

/// The cause a failed pull's message (and phase) names.
pub fn classify(phase: &str, message: &str) -> Cause {
    if phase == "Missing" {
        return Cause::NoSuchNode;
    }
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["has not responded", "not responding"]) {
        Cause::NodeNotResponding
    } else if has(&[
        "401",
        "403",
        "unauthorized",
        "authentication required",
        "authorization failed",
        "access denied",
        "denied:",
        "no basic auth credentials",
        "pull access denied",
    ]) {
        Cause::Auth
    } else if has(&[
        "timeout",
        "timed out",
        "deadline exceeded",
        "deadline",
        "i/o timeout",
    ]) {
        Cause::Timeout
    } else if has(&[
        "not found",
        "manifest unknown",
        "name unknown",
        "no such image",
    ]) {
        Cause::MissingImage
    } else if has(&["no such node", "node not found"]) {
        Cause::NoSuchNode
    } else {
        Cause::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtimes_messages_name_their_cause() {
        for (message, cause) in [
            (
                "rpc error: code = NotFound desc = failed to pull and unpack image \"127.0.0.1:5000/demo/nope:v1\": failed to resolve reference: 127.0.0.1:5000/demo/nope:v1: not found",
                Cause::MissingImage,
            ),
            (
                "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized",
                Cause::Auth,
            ),
            ("pull attempt 3: Timeout expired", Cause::Timeout),
            ("the job's activeDeadlineSeconds passed", Cause::Timeout),
            (
                "node has not responded for a long time",
                Cause::NodeNotResponding,
            ),
            ("failed to unpack: no space left on device", Cause::Other),
        ] {
            assert_eq!(classify("Failed", message), cause, "{message}");
        }
        assert_eq!(classify("Missing", "anything"), Cause::NoSuchNode);
    }
}
