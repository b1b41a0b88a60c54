//! Bounded polling: wait for a condition that becomes true through some other actor's work
//! (a controller, a watch, a restarted service) instead of sleeping a guessed amount.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use anyhow::anyhow;
use tokio::time::Instant;

/// First pause between attempts; doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// Calls `attempt` until it returns `Ok`, and returns that value.
///
/// Attempts are spaced by a growing pause (20 ms doubling to 500 ms). Each attempt is itself
/// cut off when the overall `timeout` runs out, so a hanging attempt cannot stretch the wait.
/// After `timeout` the error names `what` and carries the last attempt's error, which is
/// usually the most useful clue ("still 1 ConfigMap left").
///
/// Time comes from tokio, so tests with a paused clock work too.
pub async fn eventually<T, E, F, Fut>(
    what: &str,
    timeout: Duration,
    mut attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        let last_error = match tokio::time::timeout_at(deadline, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error.to_string(),
            Err(_elapsed) => String::from("the last attempt was still running at the deadline"),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(anyhow!(
                "timed out after {timeout:?} ({attempts} attempts) waiting for {what}: {last_error}"
            ));
        }
        tokio::time::sleep_until((now + pause).min(deadline)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Like [`eventually`], but panics on timeout: for use directly in test bodies.
///
/// # Panics
/// When `attempt` has not returned `Ok` within `timeout`.
pub async fn assert_eventually<T, E, F, Fut>(what: &str, timeout: Duration, attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    match eventually(what, timeout, attempt).await {
        Ok(value) => value,
        Err(error) => panic!("{error:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_once_the_condition_holds() {
        let calls = AtomicU32::new(0);
        let value = eventually("third call", Duration::from_secs(5), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 3 {
                Ok(n)
            } else {
                Err(format!("only {n} calls"))
            }
        })
        .await
        .expect("condition holds on the third call");
        assert_eq!(value, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_last_error() {
        let error = eventually("never", Duration::from_secs(2), || async {
            Err::<(), _>("still broken")
        })
        .await
        .expect_err("condition never holds");
        let message = error.to_string();
        assert!(message.contains("never"), "{message}");
        assert!(message.contains("still broken"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_attempt_does_not_outlive_the_timeout() {
        let started = Instant::now();
        let error = eventually("a hang", Duration::from_secs(1), || {
            std::future::pending::<Result<(), String>>()
        })
        .await
        .expect_err("a pending attempt never succeeds");
        assert!(
            started.elapsed() <= Duration::from_secs(1),
            "waited {:?}",
            started.elapsed()
        );
        assert!(error.to_string().contains("still running"), "{error}");
    }
}
