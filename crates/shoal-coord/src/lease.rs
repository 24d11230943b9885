//! Lease vocabulary shared by both backends: what is being held
//! ([`LeaseKind`]), by whom ([`OwnerId`]), for how long ([`LockOptions`]),
//! and what an acquisition attempt answered ([`Acquire`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::kv::Versioned;

/// The kind of a leased hold. Each kind has its own namespace: a mutex and a
/// semaphore may share a name without interfering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseKind {
    /// An exclusive lock.
    Mutex,
    /// One of `permits` leased permits.
    Semaphore {
        /// How many holders may hold the semaphore at once.
        permits: u32,
    },
    /// A shared hold of a read-write lock.
    Read,
    /// The exclusive hold of a read-write lock.
    Write,
}

impl LeaseKind {
    /// A short label for messages ("lock", "semaphore", ...).
    pub fn label(self) -> &'static str {
        match self {
            LeaseKind::Mutex => "lock",
            LeaseKind::Semaphore { .. } => "semaphore",
            LeaseKind::Read => "read lock",
            LeaseKind::Write => "write lock",
        }
    }

    /// The namespace tag used in keys and wake-up channels; read and write
    /// holds of one rwlock share it because they block each other.
    pub(crate) fn family(self) -> &'static str {
        match self {
            LeaseKind::Mutex => "lock",
            LeaseKind::Semaphore { .. } => "sem",
            LeaseKind::Read | LeaseKind::Write => "rw",
        }
    }
}

/// Identifies one acquisition. Unique across processes and machines (a
/// random per-process prefix plus a counter), so a release or renewal can
/// never act on somebody else's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnerId(u128);

impl OwnerId {
    /// A fresh id; cheap (one atomic increment).
    pub fn next() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let prefix = *PREFIX.get_or_init(rand::random::<u64>);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        OwnerId(((prefix as u128) << 64) | n as u128)
    }

    /// The id as 32 hex digits, as stored on Redis.
    pub fn hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

/// Options of a lock, permit or read/write acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// Lease length: how long the hold survives without renewal, and so how
    /// long a crashed holder blocks others. Default 30 s.
    pub ttl: Duration,
    /// How long `lock` waits for a busy resource before
    /// [`crate::CoordError::WaitTimeout`]. Default 30 s. `try_*` ignore it.
    pub wait: Duration,
    /// Renew the lease in the background (every TTL/3) while the guard
    /// lives. Default on; off means the lease simply ends after `ttl`.
    pub auto_renew: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            ttl: Duration::from_secs(30),
            wait: Duration::from_secs(30),
            auto_renew: true,
        }
    }
}

impl LockOptions {
    /// Sets the lease TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the wait timeout.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Turns background renewal on or off.
    pub fn auto_renew(mut self, on: bool) -> Self {
        self.auto_renew = on;
        self
    }
}

/// What one acquisition attempt answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// Granted.
    Granted {
        /// The fencing token of the grant.
        token: u64,
        /// The keys the attempt asked to read, in its order, as of the grant.
        reads: Vec<Option<Versioned>>,
    },
    /// Busy; the current hold ends in at most this long (if known).
    Busy(Option<Duration>),
}
