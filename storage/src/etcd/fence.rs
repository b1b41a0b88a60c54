//! [`LeaderFence`]: writes that hold only while their writer leads.
//!
//! A leader elected on etcd holds a key bound to an etcd lease. A store
//! [fenced](super::EtcdStore::fenced_by) by that key and lease adds one comparison to every
//! write transaction: the key is still bound to this lease. Once the lease has expired (or was
//! revoked, or the key was taken over), etcd refuses the write in the same transaction that
//! would have applied it, so a deposed leader that has not noticed yet (a frozen process, a
//! partition) cannot write after its successor started. The refusal is
//! [`StorageError::NotLeader`].

use etcd_client::{Compare, CompareOp, GetOptions, TxnOp, TxnOpResponse, TxnResponse};

use crate::StorageError;

/// The leadership a fenced store's writes depend on: the etcd key (whole, outside the store's
/// prefix) and the lease it must be bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderFence {
    pub key: String,
    pub lease: i64,
}

impl LeaderFence {
    /// The comparison every fenced write adds: the key is bound to this lease (a missing key
    /// has lease 0, which no granted lease is).
    pub(super) fn compare(&self) -> Compare {
        Compare::lease(self.key.as_str(), CompareOp::Equal, self.lease)
    }

    /// The read a fenced write's `else` branch adds last, to tell a lost leadership from a
    /// lost compare-and-swap.
    pub(super) fn read(&self) -> TxnOp {
        TxnOp::get(self.key.as_str(), Some(GetOptions::new().with_keys_only()))
    }

    /// Of a failed transaction whose `else` branch ends with [`LeaderFence::read`]:
    /// [`StorageError::NotLeader`] when the key is no longer bound to this lease.
    pub(super) fn check(&self, response: &TxnResponse) -> Result<(), StorageError> {
        let held = match response.op_responses().last() {
            Some(TxnOpResponse::Get(read)) => read
                .kvs()
                .first()
                .is_some_and(|kv| kv.lease() == self.lease),
            _ => false,
        };
        if held {
            return Ok(());
        }
        Err(StorageError::NotLeader {
            reason: format!(
                "the leader key {} is no longer held with lease {:x} (this replica's leadership ended)",
                self.key, self.lease
            ),
        })
    }
}
