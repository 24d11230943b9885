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

/// The atomic steps the coordinator is built from.
pub trait CoordBackend: Send + Sync + 'static {
    /// Tries once to take a lease. `renewing` tells an in-process backend
    /// that the holder renews continuously (so the hold has no expiry);
    /// `waiting` that the caller will wait if it is busy, so a shared
    /// backend may queue it for a targeted wake-up.
    fn acquire(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
        renewing: bool,
        waiting: bool,
    ) -> impl Future<Output = Result<Acquire>> + Send;

    /// Extends our lease to `ttl` from now; `false` if it is no longer ours.
    fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Ends our lease and wakes waiters; `false` if it was no longer ours.
    fn release(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The notifier fired whenever a lease of this resource is released.
    fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify>;

    /// Adds `delta` to a counter (missing counts as 0); returns the new value.
    fn counter_add(&self, name: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send;

    /// Reads a counter (missing counts as 0).
    fn counter_get(&self, name: &str) -> impl Future<Output = Result<i64>> + Send;

    /// Reads a key with its version.
    fn kv_get(&self, key: &str) -> impl Future<Output = Result<Option<Versioned>>> + Send;

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
    /// (0 = absent) and applies the writes. Returns the first key whose
    /// version changed, in which case nothing was written.
    fn commit(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> impl Future<Output = Result<Option<String>>> + Send;
}
