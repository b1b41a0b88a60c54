//! [`InFlight`]: the cap on requests being served at once, as kube-apiserver's
//! `--max-requests-inflight` / `--max-mutating-requests-inflight`. Past either cap a request
//! is answered at once with 429 `TooManyRequests` and `Retry-After: 1`, so a flood of slow or
//! heavy requests queues at the clients, not in this server's memory. Long-running requests
//! (watches) are not counted; neither are `system:masters` (as in kube-apiserver), so an
//! administrator can still reach a saturated server.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::request_info::RequestInfo;
use super::state::AppState;
use super::status::ApiError;
use crate::auth::UserInfo;
use crate::auth::user::MASTERS;

/// kube-apiserver's default `--max-requests-inflight`.
pub const DEFAULT_MAX_READONLY: usize = 400;
/// kube-apiserver's default `--max-mutating-requests-inflight`.
pub const DEFAULT_MAX_MUTATING: usize = 200;

/// The two budgets; 0 means unlimited. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct InFlight {
    readonly: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight::new(DEFAULT_MAX_READONLY, DEFAULT_MAX_MUTATING)
    }
}

impl InFlight {
    /// At most `readonly` reads and `mutating` writes at once (0: no limit).
    pub fn new(readonly: usize, mutating: usize) -> InFlight {
        let budget = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        InFlight {
            readonly: budget(readonly),
            mutating: budget(mutating),
        }
    }

    /// A seat for a request of `verb`, or `Err` when its budget is spent. `Ok(None)` when it
    /// has no budget.
    fn seat(&self, mutating: bool) -> Result<Option<OwnedSemaphorePermit>, ()> {
        let budget = if mutating {
            &self.mutating
        } else {
            &self.readonly
        };
        match budget {
            None => Ok(None),
            Some(semaphore) => semaphore
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| ()),
        }
    }
}

/// Whether a request of `verb` changes state (kube-apiserver's mutating verbs).
fn is_mutating(method: &axum::http::Method) -> bool {
    !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// Holds a seat while the handler runs; 429 with `Retry-After: 1` when there is none.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let long_running = matches!(
        request.extensions().get::<RequestInfo>(),
        Some(RequestInfo::Resource(r)) if r.verb == "watch"
    );
    let privileged = request
        .extensions()
        .get::<UserInfo>()
        .is_some_and(|user| user.in_group(MASTERS));
    if long_running || privileged {
        return next.run(request).await;
    }
    let mutating = is_mutating(request.method());
    match state.in_flight.seat(mutating) {
        Ok(seat) => {
            let response = next.run(request).await;
            drop(seat);
            response
        }
        Err(()) => {
            state.metrics.record_rejected_in_flight(mutating);
            ApiError::too_many_requests(1).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_refuses_until_a_seat_is_freed() {
        let in_flight = InFlight::new(1, 1);
        let read = in_flight.seat(false).unwrap();
        assert!(read.is_some());
        assert!(in_flight.seat(false).is_err());
        let write = in_flight.seat(true).unwrap();
        assert!(write.is_some(), "writes have a budget of their own");
        drop(read);
        assert!(in_flight.seat(false).unwrap().is_some());
    }

    #[test]
    fn zero_means_unlimited() {
        let in_flight = InFlight::new(0, 0);
        let seats: Vec<_> = (0..1000).map(|_| in_flight.seat(true).unwrap()).collect();
        assert!(seats.iter().all(Option::is_none));
    }
}
