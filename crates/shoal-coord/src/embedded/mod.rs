//! The embedded backend: coordination state in this process, behind
//! short `parking_lot` critical sections. It is the production backend of
//! single-machine mode (not a mock): the same semantics as Redis —
//! leases with TTLs, fencing tokens, versions that never repeat — at memory
//! speed, without allocation on the uncontended lock/unlock path.
//!
//! State is shared by the clones of one [`crate::Coordinator`] only; two
//! processes opening `embedded://` do not see each other.

mod kv;
mod leases;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::backend::{Attempt, Conflict, CoordBackend, Release, Released, TxWrite};
use crate::error::Result;
use crate::kv::{CasOutcome, Versioned};
use crate::lease::{Acquire, LeaseKind, OwnerId};

use self::kv::KvTable;
use self::leases::LeaseTable;

/// In-process coordination state.
pub struct EmbeddedBackend {
    leases: LeaseTable,
    kv: Mutex<KvTable>,
    counters: Mutex<HashMap<String, i64>>,
}

impl EmbeddedBackend {
    /// Empty state.
    pub fn new() -> Self {
        EmbeddedBackend {
            leases: LeaseTable::default(),
            kv: Mutex::new(KvTable::default()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Releases synchronously (also used by guard destructors). The lease
    /// table stays locked while the writes are applied, so nobody can take
    /// the lease in between.
    pub fn release_now(&self, release: &Release<'_>) -> Released {
        let mut outcome = Released::NotOurs;
        self.leases
            .release(release.kind, release.name, release.owner, || {
                outcome =
                    match self
                        .kv
                        .lock()
                        .fenced_writes(release.writes, release.name, release.token)
                    {
                        Ok(()) => Released::Released,
                        Err((index, newest)) => Released::Refused { index, newest },
                    };
            });
        outcome
    }
}

impl Default for EmbeddedBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CoordBackend for EmbeddedBackend {
    async fn acquire(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
        let read = || {
            if attempt.reads.is_empty() {
                return Vec::new();
            }
            let mut kv = self.kv.lock();
            attempt.reads.iter().map(|key| kv.get(key)).collect()
        };
        Ok(self.leases.acquire(
            attempt.kind,
            attempt.name,
            attempt.owner,
            attempt.ttl,
            attempt.renewing,
            read,
        ))
    }

    async fn renew(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        Ok(self.leases.renew(kind, name, owner, ttl))
    }

    async fn release(&self, release: &Release<'_>) -> Result<Released> {
        Ok(self.release_now(release))
    }

    async fn abandon_wait(&self, _kind: LeaseKind, _name: &str, _owner: OwnerId) -> Result<()> {
        // Waiters are not queued here: a release wakes every local waiter.
        Ok(())
    }

    fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify> {
        self.leases.wake_handle(kind, name)
    }

    async fn counter_add(&self, name: &str, delta: i64) -> Result<i64> {
        let mut counters = self.counters.lock();
        let value = match counters.get_mut(name) {
            Some(v) => v,
            None => counters.entry(name.to_owned()).or_insert(0),
        };
        *value = value.wrapping_add(delta);
        Ok(*value)
    }

    async fn counter_get(&self, name: &str) -> Result<i64> {
        Ok(self.counters.lock().get(name).copied().unwrap_or(0))
    }

    async fn kv_get(&self, key: &str) -> Result<Option<Versioned>> {
        Ok(self.kv.lock().get(key))
    }

    async fn kv_get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>> {
        let mut kv = self.kv.lock();
        Ok(keys.iter().map(|key| kv.get(key)).collect())
    }

    async fn kv_put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        Ok(self.kv.lock().put(key, value, ttl))
    }

    async fn kv_delete(&self, key: &str) -> Result<bool> {
        Ok(self.kv.lock().delete(key))
    }

    async fn kv_cas(&self, key: &str, expected: Option<u64>, new: TxWrite) -> Result<CasOutcome> {
        Ok(self.kv.lock().cas(key, expected, new))
    }

    async fn kv_put_fenced(
        &self,
        key: &str,
        value: Bytes,
        lock: &str,
        token: u64,
    ) -> Result<std::result::Result<u64, u64>> {
        Ok(self.kv.lock().put_fenced(key, value, lock, token))
    }

    async fn commit(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Result<Option<Conflict>> {
        Ok(self.kv.lock().commit(reads, writes))
    }
}
