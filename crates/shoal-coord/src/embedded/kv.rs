//! Embedded versioned key-value table. Versions come from one table-wide
//! counter, so they never repeat for a key, even across deletes.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::backend::{Conflict, TxWrite};
use crate::kv::{CasOutcome, Versioned};

#[derive(Debug, Default)]
struct Entry {
    /// (value, version, expiry).
    value: Option<(Bytes, u64, Option<Instant>)>,
    /// Newest accepted fencing token per lock name; survives deletes so a
    /// stale holder cannot sneak in after one.
    fences: HashMap<String, u64>,
}

/// All keys, plus the version counter.
#[derive(Debug, Default)]
pub(super) struct KvTable {
    entries: HashMap<String, Entry>,
    last_version: u64,
}

impl KvTable {
    /// The live (unexpired) version of `key`, dropping an expired value.
    fn live(&mut self, key: &str) -> Option<&(Bytes, u64, Option<Instant>)> {
        let entry = self.entries.get_mut(key)?;
        if entry
            .value
            .as_ref()
            .is_some_and(|(_, _, exp)| exp.is_some_and(|e| e <= Instant::now()))
        {
            entry.value = None;
        }
        entry.value.as_ref()
    }

    fn version(&mut self, key: &str) -> u64 {
        self.live(key).map_or(0, |(_, v, _)| *v)
    }

    pub(super) fn get(&mut self, key: &str) -> Option<Versioned> {
        self.live(key).map(|(value, version, _)| Versioned {
            value: value.clone(),
            version: *version,
        })
    }

    pub(super) fn put(&mut self, key: &str, value: Bytes, ttl: Option<Duration>) -> u64 {
        self.last_version += 1;
        let version = self.last_version;
        let expiry = ttl.map(|t| Instant::now() + t);
        let entry = match self.entries.get_mut(key) {
            Some(e) => e,
            None => self.entries.entry(key.to_owned()).or_default(),
        };
        entry.value = Some((value, version, expiry));
        version
    }

    pub(super) fn delete(&mut self, key: &str) -> bool {
        let existed = self.live(key).is_some();
        if let Some(entry) = self.entries.get_mut(key) {
            entry.value = None;
            if entry.fences.is_empty() {
                self.entries.remove(key);
            }
        }
        existed
    }

    pub(super) fn cas(&mut self, key: &str, expected: Option<u64>, new: TxWrite) -> CasOutcome {
        let current = self.live(key).map(|(_, v, _)| *v);
        if current != expected {
            return CasOutcome::Mismatch(current);
        }
        match new {
            Some((value, ttl)) => CasOutcome::Applied(Some(self.put(key, value, ttl))),
            None => {
                self.delete(key);
                CasOutcome::Applied(None)
            }
        }
    }

    pub(super) fn put_fenced(
        &mut self,
        key: &str,
        value: Bytes,
        lock: &str,
        token: u64,
    ) -> Result<u64, u64> {
        let entry = self.entries.entry(key.to_owned()).or_default();
        match entry.fences.get_mut(lock) {
            Some(newest) if *newest > token => return Err(*newest),
            Some(newest) => *newest = token,
            None => {
                entry.fences.insert(lock.to_owned(), token);
            }
        }
        Ok(self.put(key, value, None))
    }

    /// Applies `writes` as the holder of `token` of lease `lock` (like
    /// [`KvTable::put_fenced`] for each key). If a key already accepted a
    /// newer token of `lock`, nothing is written: `Err((its index, that
    /// token))`.
    pub(super) fn fenced_writes(
        &mut self,
        writes: &[(String, TxWrite)],
        lock: &str,
        token: u64,
    ) -> Result<(), (usize, u64)> {
        for (index, (key, _)) in writes.iter().enumerate() {
            let newest = self.entries.get(key).and_then(|e| e.fences.get(lock));
            if let Some(&newest) = newest.filter(|newest| **newest > token) {
                return Err((index, newest));
            }
        }
        self.commit(&[], writes);
        for (key, _) in writes {
            let entry = self.entries.entry(key.clone()).or_default();
            entry.fences.insert(lock.to_owned(), token);
        }
        Ok(())
    }

    pub(super) fn commit(
        &mut self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Option<Conflict> {
        for (key, seen) in reads {
            if self.version(key) != *seen {
                return Some(Conflict {
                    key: key.clone(),
                    current: reads.iter().map(|(key, _)| self.get(key)).collect(),
                });
            }
        }
        for (key, write) in writes {
            match write {
                Some((value, ttl)) => {
                    self.put(key, value.clone(), *ttl);
                }
                None => {
                    self.delete(key);
                }
            }
        }
        None
    }
}
