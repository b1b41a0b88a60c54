//! [`AlwaysLeader`]: the election of a replica that cannot have rivals. The embedded store is
//! opened under an exclusive file lock, so the one process holding it is the only one that
//! could schedule.

use tokio_util::sync::CancellationToken;

use super::Election;

/// Leads at once and until stopped.
#[derive(Debug, Clone)]
pub struct AlwaysLeader {
    identity: String,
}

impl AlwaysLeader {
    /// An election that `identity` always wins.
    pub fn new(identity: impl Into<String>) -> AlwaysLeader {
        AlwaysLeader {
            identity: identity.into(),
        }
    }
}

#[async_trait::async_trait]
impl Election for AlwaysLeader {
    fn identity(&self) -> &str {
        &self.identity
    }

    /// Leads immediately (None when `stop` is already cancelled); leadership ends only with
    /// `stop`.
    async fn acquire(&self, stop: &CancellationToken) -> Option<CancellationToken> {
        (!stop.is_cancelled()).then(|| stop.child_token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn always_leader_leads_until_stopped_and_not_after() {
        let election = AlwaysLeader::new("me");
        let stop = CancellationToken::new();
        let leading = election.acquire(&stop).await.expect("leads");
        assert!(!leading.is_cancelled());
        stop.cancel();
        assert!(leading.is_cancelled());
        assert!(election.acquire(&stop).await.is_none());
        assert_eq!(election.identity(), "me");
    }
}
