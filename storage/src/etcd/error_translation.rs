//! The one place where etcd's and gRPC's failures become [`StorageError`]s.
//!
//! etcd reports most conditions as a gRPC status whose code is shared by several of them (both
//! "compacted" and "future revision" are `OutOfRange`), so the message text decides; the texts
//! are etcd's stable `etcdserver: ...` strings.

use std::time::Duration;

use tonic::Code;

use crate::{MAX_VALUE_BYTES, Revision, StorageError};

/// What a failed call was about, to fill in the error's fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Call<'a> {
    /// The caller's key (or prefix), for errors that name one.
    pub key: &'a str,
    /// The revision the call asked for (a list or compaction revision, a watch start).
    pub revision: Option<Revision>,
    /// Size of the value being written, for "request too large".
    pub value_size: Option<usize>,
}

impl<'a> Call<'a> {
    pub(crate) fn on(key: &'a str) -> Call<'a> {
        Call {
            key,
            ..Call::default()
        }
    }

    pub(crate) fn at(mut self, revision: Option<Revision>) -> Call<'a> {
        self.revision = revision;
        self
    }

    pub(crate) fn writing(mut self, value_size: usize) -> Call<'a> {
        self.value_size = Some(value_size);
        self
    }
}

/// The storage error for an etcd-client failure of `call`.
///
/// [`StorageError::RevisionTooLarge`] comes back with `current: 0`: etcd does not say its
/// revision in that error, the caller fills it in when it wants to.
pub(crate) fn translate(error: etcd_client::Error, call: &Call<'_>) -> StorageError {
    use etcd_client::Error as E;
    match error {
        E::GRpcStatus(status) => translate_status(status.code(), status.message(), call),
        E::TransportError(err) => unavailable(format!("cannot reach etcd: {err}")),
        E::IoError(err) => unavailable(format!("cannot reach etcd: {err}")),
        // The watch request channel closes only when the gRPC stream is gone.
        E::WatchError(err) => unavailable(format!("etcd watch stream closed: {err}")),
        other => StorageError::Internal(format!("etcd client: {other}")),
    }
}

fn translate_status(code: Code, message: &str, call: &Call<'_>) -> StorageError {
    let requested = call.revision.unwrap_or(0);
    match code {
        // The NOSPACE alarm: every write is refused until an operator frees space.
        Code::ResourceExhausted if message.contains("database space exceeded") => {
            StorageError::QuotaExceeded {
                reason: message.to_owned(),
            }
        }
        Code::OutOfRange if message.contains("compacted") => StorageError::Expired {
            requested,
            // etcd does not tell its compaction revision in this error.
            oldest: 0,
        },
        Code::OutOfRange if message.contains("future revision") => StorageError::RevisionTooLarge {
            requested,
            current: 0,
        },
        // etcd's own size check ("request is too large") and gRPC's message size limit.
        Code::InvalidArgument | Code::ResourceExhausted
            if call.value_size.is_some()
                && (message.contains("too large") || message.contains("larger than max")) =>
        {
            StorageError::ValueTooLarge {
                key: call.key.to_string(),
                size: call.value_size.unwrap_or_default(),
                limit: MAX_VALUE_BYTES,
            }
        }
        // Connection refused or reset, no leader, etcd's internal timeouts, "too many requests".
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
            unavailable(format!("etcd: {message}"))
        }
        // tonic reports a connection that broke mid-response as Unknown.
        Code::Unknown if looks_like_transport(message) => {
            unavailable(format!("etcd connection lost: {message}"))
        }
        _ => StorageError::Internal(format!("etcd answered {code:?}: {message}")),
    }
}

fn looks_like_transport(message: &str) -> bool {
    [
        "transport",
        "connection",
        "h2 protocol",
        "broken pipe",
        "stream closed",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// Whether `error` says the call never reached a member: the connection to the member the
/// channel picked could not be opened (hyper's "tcp connect error" for a refused or timed-out
/// dial), so sending it again, to whichever member comes next, cannot apply it twice.
pub(crate) fn never_sent(error: &etcd_client::Error) -> bool {
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            status.code() == Code::Unavailable
                && ["tcp connect error", "tcp open error", "dns error"]
                    .iter()
                    .any(|prefix| status.message().starts_with(prefix))
        }
        _ => false,
    }
}

/// A call that did not complete within its deadline.
pub(crate) fn deadline_exceeded(timeout: Duration) -> StorageError {
    unavailable(format!("etcd did not answer within {timeout:?}"))
}

/// etcd answered something that breaks its own protocol (a missing header or response).
pub(crate) fn malformed(what: &str) -> StorageError {
    StorageError::Internal(format!("malformed etcd response: {what}"))
}

fn unavailable(reason: String) -> StorageError {
    StorageError::Unavailable { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: Code, message: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn a_read_at_a_compacted_revision_is_expired() {
        let error = translate(
            status(
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
            ),
            &Call::on("/g/p/").at(Some(7)),
        );
        assert!(matches!(error, StorageError::Expired { requested: 7, .. }));
    }

    #[test]
    fn a_read_at_a_future_revision_is_too_large() {
        let error = translate(
            status(
                Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision",
            ),
            &Call::on("/g/p/").at(Some(99)),
        );
        assert!(matches!(
            error,
            StorageError::RevisionTooLarge { requested: 99, .. }
        ));
    }

    #[test]
    fn a_write_refused_for_its_size_is_value_too_large() {
        let error = translate(
            status(Code::InvalidArgument, "etcdserver: request is too large"),
            &Call::on("/g/p/n").writing(2_000_000),
        );
        assert!(matches!(
            error,
            StorageError::ValueTooLarge {
                size: 2_000_000,
                ..
            }
        ));
    }

    #[test]
    fn unreachable_or_leaderless_etcd_is_unavailable() {
        for (code, message) in [
            (Code::Unavailable, "tcp connect error"),
            (Code::Unavailable, "etcdserver: no leader"),
            (Code::DeadlineExceeded, "context deadline exceeded"),
            (
                Code::Unknown,
                "h2 protocol error: error reading a body from connection",
            ),
        ] {
            let error = translate(status(code, message), &Call::on("/k"));
            assert!(error.is_transient(), "{code:?} {message}: {error}");
        }
    }

    #[test]
    fn only_a_connection_never_opened_counts_as_never_sent() {
        assert!(never_sent(&status(Code::Unavailable, "tcp connect error")));
        for (code, message) in [
            (Code::Unavailable, "etcdserver: no leader"),
            (Code::Unknown, "h2 protocol error: connection reset"),
            (Code::DeadlineExceeded, "context deadline exceeded"),
            (Code::Internal, "tcp connect error"),
        ] {
            assert!(!never_sent(&status(code, message)), "{code:?} {message}");
        }
    }

    #[test]
    fn a_write_past_the_space_quota_is_quota_exceeded() {
        let error = translate(
            status(
                Code::ResourceExhausted,
                "etcdserver: mvcc: database space exceeded",
            ),
            &Call::on("/g/p/n").writing(100),
        );
        assert!(
            matches!(&error, StorageError::QuotaExceeded { reason } if reason.contains("space exceeded")),
            "{error}"
        );
    }

    #[test]
    fn anything_else_is_internal() {
        let error = translate(
            status(Code::PermissionDenied, "etcdserver: permission denied"),
            &Call::on("/k"),
        );
        assert!(matches!(error, StorageError::Internal(_)));
    }
}
