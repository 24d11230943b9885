//! Embedded leases: one table per lease family, entries kept after release
//! so the fencing counter of a name only ever grows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::kv::Versioned;
use crate::lease::{Acquire, LeaseKind, OwnerId};

/// One current hold of a resource.
#[derive(Debug, Clone, Copy)]
struct Hold {
    owner: OwnerId,
    /// `None`: renewed continuously by an in-process guard, ends on release.
    until: Option<Instant>,
    /// A write hold (rwlock) — excludes every other hold.
    exclusive: bool,
}

/// A resource's state. `holds` keeps its capacity across grants, so
/// re-locking a name allocates nothing.
#[derive(Debug, Default)]
struct Entry {
    holds: Vec<Hold>,
    last_token: u64,
    notify: Option<Arc<Notify>>,
}

impl Entry {
    fn purge_expired(&mut self, now: Instant) {
        if self.holds.iter().any(|h| h.until.is_some_and(|u| u <= now)) {
            self.holds.retain(|h| h.until.is_none_or(|u| u > now));
        }
    }

    fn admits(&self, kind: LeaseKind) -> bool {
        match kind {
            LeaseKind::Mutex | LeaseKind::Write => self.holds.is_empty(),
            LeaseKind::Semaphore { permits } => self.holds.len() < permits as usize,
            LeaseKind::Read => !self.holds.iter().any(|h| h.exclusive),
        }
    }

    /// When the earliest expiring hold ends (None if all end on release).
    fn next_expiry(&self, now: Instant) -> Option<Duration> {
        self.holds
            .iter()
            .filter_map(|h| h.until)
            .min()
            .map(|u| u.saturating_duration_since(now))
    }
}

/// Mutexes, semaphores and rwlocks, each in its own namespace.
#[derive(Default)]
pub(super) struct LeaseTable {
    families: [Mutex<HashMap<String, Entry>>; 3],
}

impl LeaseTable {
    fn family(&self, kind: LeaseKind) -> &Mutex<HashMap<String, Entry>> {
        &self.families[match kind {
            LeaseKind::Mutex => 0,
            LeaseKind::Semaphore { .. } => 1,
            LeaseKind::Read | LeaseKind::Write => 2,
        }]
    }

    /// Grants a hold if the resource admits it; `on_grant` runs under the
    /// table's lock right after the grant (reads that must see the state
    /// as of the grant).
    pub(super) fn acquire(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
        renewing: bool,
        on_grant: impl FnOnce() -> Vec<Option<Versioned>>,
    ) -> Acquire {
        let now = Instant::now();
        let mut table = self.family(kind).lock();
        let entry = match table.get_mut(name) {
            Some(entry) => entry,
            None => table.entry(name.to_owned()).or_default(),
        };
        entry.purge_expired(now);
        if !entry.admits(kind) {
            return Acquire::Busy(entry.next_expiry(now));
        }
        entry.last_token += 1;
        entry.holds.push(Hold {
            owner,
            until: (!renewing).then(|| now + ttl),
            exclusive: kind == LeaseKind::Write,
        });
        Acquire::Granted {
            token: entry.last_token,
            reads: on_grant(),
        }
    }

    pub(super) fn renew(&self, kind: LeaseKind, name: &str, owner: OwnerId, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut table = self.family(kind).lock();
        let Some(entry) = table.get_mut(name) else {
            return false;
        };
        entry.purge_expired(now);
        match entry.holds.iter_mut().find(|h| h.owner == owner) {
            Some(hold) => {
                if hold.until.is_some() {
                    hold.until = Some(now + ttl);
                }
                true
            }
            None => false,
        }
    }

    /// Ends `owner`'s hold and wakes waiters; `while_ours` runs first,
    /// under the table's lock, if the hold was still ours (unexpired).
    /// Returns whether it was.
    pub(super) fn release(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        while_ours: impl FnOnce(),
    ) -> bool {
        let now = Instant::now();
        let mut table = self.family(kind).lock();
        let Some(entry) = table.get_mut(name) else {
            return false;
        };
        let Some(at) = entry.holds.iter().position(|h| h.owner == owner) else {
            return false;
        };
        let ours = entry.holds[at].until.is_none_or(|u| u > now);
        if ours {
            while_ours();
        }
        entry.holds.swap_remove(at);
        if let Some(notify) = &entry.notify {
            notify.notify_waiters();
        }
        ours
    }

    pub(super) fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify> {
        let mut table = self.family(kind).lock();
        let entry = table.entry(name.to_owned()).or_default();
        Arc::clone(entry.notify.get_or_insert_with(Default::default))
    }
}
