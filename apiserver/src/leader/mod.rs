//! Leader election: which replica runs the scheduler.
#[async_trait::async_trait]
pub trait Election: Send + Sync + std::fmt::Debug + 'static {
    /// Who this replica is (the lease holder identity).
    fn identity(&self) -> &str;
    /// Campaigns until this replica leads (Some) or `stop` is cancelled (None). While leading,
    /// the implementation renews in the background; the returned token is cancelled when
    /// leadership is lost (renewal failed past the deadline, lease taken) or `stop` is cancelled,
    /// and on `stop` the lease is released so another replica can take over at once.
    async fn acquire(
        &self,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Option<tokio_util::sync::CancellationToken>;
}
