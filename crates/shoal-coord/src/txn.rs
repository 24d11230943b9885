//! Optimistic transactions over the versioned key-value store.
//!
//! `transact(|tx| async move { ... })` runs the closure against a [`Tx`]:
//! reads go to the backend and record the version they saw (0 = absent),
//! writes are buffered. Commit is one atomic step (one Lua script on Redis)
//! that checks every recorded version and applies every write, so the
//! transaction is serializable for the keys it touches. On a conflict the
//! closure runs again — at once the first time, after a jittered backoff
//! from then on — up to [`crate::CoordConfig::max_tx_attempts`], then
//! fails with [`CoordError::Conflict`]. A failed commit returns every key
//! the attempt read as it is now (read atomically by the same script), and
//! the immediate retry's reads of those keys are served from that
//! snapshot: it costs one round trip, the commit.
//!
//! Reads within one attempt are not a snapshot: the closure may observe a
//! mix of old and new values. Such an attempt can never commit, and if the
//! closure *fails* after such reads, the failure is checked against the
//! read set and the attempt retried when stale — so a business rule ("no
//! negative balance") is never reported on the basis of a torn read.
//!
//! Redis Cluster: a commit is one script, so every key of a transaction
//! must hash to the same slot. Give related keys a common hash tag
//! (`{bank}:alice`, `{bank}:bob`); otherwise the commit fails with
//! [`CoordError::CrossSlot`].
//!
//! A commit that fails in transit ([`CoordError::CommitUnknown`]) may or may
//! not have been applied. Make retried work idempotent, e.g. by writing a
//! unique marker key in the same transaction and checking it first.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::backend::{Conflict, TxWrite};
use crate::coordinator::Coordinator;
use crate::error::{CoordError, Result};
use crate::kv::Versioned;
use crate::retry::Backoff;
use crate::validate;

/// Keys read with the version seen (0 = absent).
type ReadSet = Vec<(String, u64)>;
/// Buffered writes in key order.
type WriteSet = Vec<(String, TxWrite)>;

/// The handle a transaction closure reads and writes through. Cloneable;
/// all clones share the same read and write sets.
#[derive(Clone)]
pub struct Tx {
    coord: Coordinator,
    state: Arc<Mutex<TxState>>,
}

#[derive(Default)]
struct TxState {
    /// Key → (version seen, value seen).
    reads: HashMap<String, (u64, Option<Bytes>)>,
    /// Key → buffered write, in key order for a deterministic commit.
    writes: BTreeMap<String, TxWrite>,
    /// Values the last attempt's failed commit returned, served to this
    /// attempt's first read of each key (then recorded like a read).
    prefetched: HashMap<String, Option<Versioned>>,
}

impl TxState {
    /// What this attempt already knows of `key` — its own buffered write,
    /// its first read, or the failed commit's snapshot (then recorded as
    /// read) — or `None` if the key must be fetched.
    fn known(&mut self, key: &str) -> Option<Option<Bytes>> {
        if let Some(write) = self.writes.get(key) {
            return Some(write.as_ref().map(|(v, _)| v.clone()));
        }
        if let Some((_, value)) = self.reads.get(key) {
            return Some(value.clone());
        }
        let found = self.prefetched.remove(key)?;
        let (version, value) = split(found);
        self.reads.insert(key.to_owned(), (version, value.clone()));
        Some(value)
    }
}

impl Tx {
    /// Reads `key`: this transaction's own buffered write if any, otherwise
    /// the stored value (recording its version for the commit check).
    /// Repeated reads of a key return the first value seen.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.get_many(&[key]).await?.pop().flatten())
    }

    /// Reads several keys like [`Tx::get`], in the order of `keys`; those
    /// not known to this attempt yet are fetched together, in one round
    /// trip on Redis.
    pub async fn get_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>> {
        let mut values = Vec::with_capacity(keys.len());
        let mut missing: Vec<&str> = Vec::new();
        {
            let mut state = self.state.lock();
            for key in keys {
                let key = key.as_ref();
                validate::name("key", key)?;
                let known = state.known(key);
                if known.is_none() && !missing.contains(&key) {
                    missing.push(key);
                }
                values.push(known);
            }
        }
        if missing.is_empty() {
            return Ok(values.into_iter().map(Option::unwrap_or_default).collect());
        }
        let fetched = self.coord.get_many(&missing).await?;
        let mut state = self.state.lock();
        for (key, found) in missing.into_iter().zip(fetched) {
            // A concurrent read through a clone of this handle may have
            // recorded the key meanwhile: the first value seen stays.
            state.reads.entry(key.to_owned()).or_insert(split(found));
        }
        Ok(keys
            .iter()
            .zip(values)
            .map(|(key, known)| known.unwrap_or_else(|| state.known(key.as_ref()).flatten()))
            .collect())
    }

    /// Buffers a write of `key` (no expiry).
    pub fn put(&self, key: &str, value: impl Into<Bytes>) -> Result<()> {
        self.buffer(key, Some((value.into(), None)))
    }

    /// Buffers a write of `key` that expires after `ttl`.
    pub fn put_with_ttl(&self, key: &str, value: impl Into<Bytes>, ttl: Duration) -> Result<()> {
        validate::ttl("key TTL", ttl)?;
        self.buffer(key, Some((value.into(), Some(ttl))))
    }

    /// Buffers a delete of `key`.
    pub fn delete(&self, key: &str) -> Result<()> {
        self.buffer(key, None)
    }

    fn buffer(&self, key: &str, write: TxWrite) -> Result<()> {
        validate::name("key", key)?;
        if let Some((value, _)) = &write {
            validate::value(key, value.len())?;
        }
        self.state.lock().writes.insert(key.to_owned(), write);
        Ok(())
    }

    fn take(&self) -> (ReadSet, WriteSet) {
        let mut state = self.state.lock();
        let reads = state.reads.drain().map(|(k, (ver, _))| (k, ver)).collect();
        let writes = std::mem::take(&mut state.writes).into_iter().collect();
        (reads, writes)
    }
}

/// A read as (version, value); version 0 for an absent key.
fn split(found: Option<Versioned>) -> (u64, Option<Bytes>) {
    match found {
        Some(v) => (v.version, Some(v.value)),
        None => (0, None),
    }
}

impl Coordinator {
    /// Runs `body` as an optimistic transaction (see the [module
    /// docs](crate::txn)), retrying on conflict. The closure's error type
    /// only needs to absorb [`CoordError`], so it can carry the caller's
    /// own reasons to abort.
    pub async fn transact<T, E, F, Fut>(&self, mut body: F) -> std::result::Result<T, E>
    where
        F: FnMut(Tx) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<CoordError>,
    {
        let max = self.config().max_tx_attempts.max(1);
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(100));
        let mut last_conflict = String::new();
        let mut prefetched = HashMap::new();
        for attempt in 0..max {
            let tx = Tx {
                coord: self.clone(),
                state: Arc::new(Mutex::new(TxState {
                    prefetched: std::mem::take(&mut prefetched),
                    ..TxState::default()
                })),
            };
            let outcome = body(tx.clone()).await;
            let (reads, writes) = tx.take();
            let conflict = match outcome {
                Ok(value) => match self.commit_checked(&reads, &writes).await? {
                    None => return Ok(value),
                    Some(conflict) => conflict,
                },
                Err(err) => match self.commit_checked(&reads, &[]).await {
                    // The reads were consistent: the failure is genuine.
                    Ok(None) => return Err(err),
                    Ok(Some(conflict)) => conflict,
                    Err(_) => return Err(err),
                },
            };
            last_conflict = conflict.key;
            if attempt == 0 {
                // Someone else just committed: retrying at once usually
                // succeeds, and from the snapshot the failed commit took of
                // every key read (a snapshot that would be stale after a
                // backoff, so later retries read anew).
                prefetched = reads
                    .into_iter()
                    .map(|(key, _)| key)
                    .zip(conflict.current)
                    .collect();
            } else {
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
        Err(CoordError::Conflict {
            attempts: max,
            key: last_conflict,
        }
        .into())
    }

    /// Commits, turning transport failures of a write commit into
    /// [`CoordError::CommitUnknown`] (it may have been applied).
    async fn commit_checked(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Result<Option<Conflict>> {
        if reads.is_empty() && writes.is_empty() {
            return Ok(None);
        }
        match self.shared().commit(reads, writes).await {
            Err(err @ (CoordError::Connection { .. } | CoordError::Timeout { .. }))
                if !writes.is_empty() =>
            {
                Err(CoordError::CommitUnknown {
                    source: Box::new(err),
                })
            }
            other => other,
        }
    }
}
