//! The one contract both backends implement. [`crate::Coordinator`] adds
//! validation, waiting, guards and transaction retries on top, so those
//! behave identically embedded and on Redis.
//!
//! Every method is a single atomic step on the backend (one critical
//! section embedded, one command or Lua script on Redis).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::error::Result;
use crate::kv::{CasOutcome, Versioned};
use crate::lease::{Acquire, LeaseKind, OwnerId};

/// One buffered write of a transaction: `Some` puts, `None` deletes.
pub type TxWrite = Option<(Bytes, Option<Duration>)>;

/// A commit that found a read key changed; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The first read key whose version changed.
    pub key: String,
    /// Every read key as it is now, in the order of the reads: a retry can
    /// start from this consistent snapshot instead of reading again.
    pub current: Vec<Option<Versioned>>,
}

/// One attempt to take a lease.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// What kind of hold.
    pub kind: LeaseKind,
    /// The resource.
    pub name: &'a str,
    /// Who asks.
    pub owner: OwnerId,
    /// The lease length.
    pub ttl: Duration,
    /// The holder renews continuously (so an in-process backend may drop
    /// the expiry).
    pub renewing: bool,
    /// The caller will wait if the resource is busy, so a shared backend
    /// may queue it for a targeted wake-up.
    pub waiting: bool,
    /// An earlier attempt of this owner was queued (a grant must take it
    /// out of the queue).
    pub queued: bool,
    /// Keys to read, if granted, in the same step.
    pub reads: &'a [String],
}

/// Ending a lease, optionally writing keys in the same step.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// What kind of hold.
    pub kind: LeaseKind,
    /// The resource.
    pub name: &'a str,
    /// The holder.
    pub owner: OwnerId,
    /// The lease's fencing token, recorded on written keys.
    pub token: u64,
    /// Writes applied only if the lease is still ours.
    pub writes: &'a [(String, TxWrite)],
}

/// What a release found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// It was ours; the writes were applied and the lease ended.
    Released,
    /// It was no longer ours; nothing was written.
    NotOurs,
    /// It was ours and ended, but the key at this index of the writes had
    /// accepted a newer fencing token of the same name (`put_fenced`), so
    /// nothing was written.
    Refused {
        /// Index into [`Release::writes`].
        index: usize,
        /// The newer token the key holds.
        newest: u64,
    },
}

/// The atomic steps the coordinator is built from.
pub trait CoordBackend: Send + Sync + 'static {
    /// Tries once to take a lease (and, if granted, reads
    /// `attempt.reads` in the same step).
    fn acquire(&self, attempt: &Attempt<'_>) -> impl Future<Output = Result<Acquire>> + Send;

    /// Extends our lease to `ttl` from now; `false` if it is no longer ours.
    fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Ends our lease and wakes waiters. If the lease is still ours,
    /// `release.writes` are applied first, in the same step, as fenced
    /// writes with the lease's token (see [`Released::Refused`]).
    fn release(&self, release: &Release<'_>) -> impl Future<Output = Result<Released>> + Send;

    /// `owner` stopped waiting for the resource (it timed out, failed or
    /// was cancelled): a backend that queues waiters takes it out, so
    /// releases neither wake it nor hand the resource to it.
    fn abandon_wait(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The notifier fired whenever a lease of this resource is released.
    fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify>;

    /// Adds `delta` to a counter (missing counts as 0); returns the new value.
    fn counter_add(&self, name: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send;

    /// Reads a counter (missing counts as 0).
    fn counter_get(&self, name: &str) -> impl Future<Output = Result<i64>> + Send;

    /// Reads a key with its version.
    fn kv_get(&self, key: &str) -> impl Future<Output = Result<Option<Versioned>>> + Send;

    /// Reads several keys with their versions, in the order of `keys`, in
    /// one round trip (not atomically: each read is as of its own moment).
    fn kv_get_many(
        &self,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Option<Versioned>>>> + Send;

    /// Writes a key; returns its new version.
    fn kv_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Deletes a key; `true` if it existed.
    fn kv_delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Writes (or deletes, with `None`) only if the current version is
    /// `expected` (`None` = the key must be absent).
    fn kv_cas(
        &self,
        key: &str,
        expected: Option<u64>,
        new: TxWrite,
    ) -> impl Future<Output = Result<CasOutcome>> + Send;

    /// Writes only if `token` is at least the newest token of `lock` this
    /// key accepted, and records it. `Err(newest)` when refused.
    fn kv_put_fenced(
        &self,
        key: &str,
        value: Bytes,
        lock: &str,
        token: u64,
    ) -> impl Future<Output = Result<std::result::Result<u64, u64>>> + Send;

    /// Atomically checks that every read key still has its recorded version
    /// (0 = absent) and applies the writes. On a [`Conflict`] nothing was
    /// written.
    fn commit(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> impl Future<Output = Result<Option<Conflict>>> + Send;
}
