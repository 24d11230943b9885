//! [`Coordinator`]: the handle every caller uses, whatever the backend.
//!
//! It picks the backend from the URL and dispatches each step to it,
//! statically. Leases are taken in `locks.rs` (waiting with pub/sub
//! wake-ups plus bounded, jittered backoff — never busy polling) and held
//! through [`crate::Guard`]s; transactions are in `txn.rs`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::backend::{Attempt, Conflict, CoordBackend, Release, Released, TxWrite};
use crate::embedded::EmbeddedBackend;
use crate::error::{CoordError, Result};
use crate::kv::{CasOutcome, Versioned};
use crate::lease::{Acquire, LeaseKind, OwnerId};
use crate::redis::RedisBackend;
use crate::renewal::Renewer;
use crate::url::CoordUrl;
use crate::validate;

/// Tuning shared by every operation of one coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordConfig {
    /// Upper bound on any single server round trip. Default 5 s.
    pub op_timeout: Duration,
    /// Upper bound on establishing a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Attempts of a transaction before [`CoordError::Conflict`]. Default 50.
    pub max_tx_attempts: u32,
    /// Replicas that must hold a lease grant or renewal before it counts
    /// (Redis `WAIT`, capped at the replicas connected to the primary), so
    /// that a failover cannot forget a lock or reissue its fencing token. A
    /// grant too few replicas acknowledge in time is given back with
    /// [`CoordError::NotReplicated`](crate::CoordError::NotReplicated).
    /// `None` (the default) means 1 behind a `redis+sentinel://` URL and 0
    /// otherwise. The cap needs the `ROLE` command; an ACL user denied it
    /// gets the count as configured. Redis replication stays asynchronous
    /// for everything else.
    pub grant_replicas: Option<usize>,
}

impl Default for CoordConfig {
    fn default() -> Self {
        CoordConfig {
            op_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_tx_attempts: 50,
            grant_replicas: None,
        }
    }
}

/// A cheap, cloneable handle on coordination state (embedded or Redis).
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    url: CoordUrl,
    config: CoordConfig,
    backend: Backend,
    /// Keeps this coordinator's auto-renewed leases alive.
    renewer: Arc<Renewer>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The scheduler holds the coordinator only weakly; stop it with it.
        self.renewer.shut_down();
    }
}

enum Backend {
    // Boxed: both backends are large and the enum sits in an Arc.
    Embedded(Box<EmbeddedBackend>),
    Redis(Box<RedisBackend>),
}

/// Calls the same method on whichever backend is active (static dispatch:
/// no boxing on the embedded fast path).
macro_rules! on_backend {
    ($self:expr, $b:ident => $call:expr) => {
        match &$self.inner.backend {
            Backend::Embedded($b) => $call,
            Backend::Redis($b) => $call,
        }
    };
}

impl Coordinator {
    /// Opens a coordinator from a URL (`embedded://`, `redis://...`,
    /// `rediss://...`) with default settings.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(&CoordUrl::parse(url)?, CoordConfig::default()).await
    }

    /// Opens a coordinator from a parsed URL with explicit settings. For
    /// Redis this connects (bounded by `connect_timeout`) and subscribes to
    /// release notifications.
    pub async fn open_with(url: &CoordUrl, config: CoordConfig) -> Result<Self> {
        let backend = match url {
            CoordUrl::Embedded => Backend::Embedded(Box::default()),
            CoordUrl::Redis(target) => {
                Backend::Redis(Box::new(RedisBackend::connect(target, &config).await?))
            }
        };
        Ok(Coordinator {
            inner: Arc::new(Inner {
                url: url.clone(),
                config,
                backend,
                renewer: Arc::default(),
            }),
        })
    }

    /// A fresh in-process coordinator. State lives as long as some clone of
    /// the handle does, and is shared only by those clones.
    pub fn embedded() -> Self {
        Coordinator {
            inner: Arc::new(Inner {
                url: CoordUrl::Embedded,
                config: CoordConfig::default(),
                backend: Backend::Embedded(Box::default()),
                renewer: Arc::default(),
            }),
        }
    }

    /// Where state lives (displays without passwords).
    pub fn url(&self) -> &CoordUrl {
        &self.inner.url
    }

    /// The settings in force.
    pub fn config(&self) -> &CoordConfig {
        &self.inner.config
    }

    pub(crate) fn is_embedded(&self) -> bool {
        matches!(self.inner.backend, Backend::Embedded(_))
    }

    pub(crate) fn renewer(&self) -> &Arc<Renewer> {
        &self.inner.renewer
    }

    /// A handle that does not keep the coordinator alive.
    pub(crate) fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The coordinator behind `weak`, unless every handle is gone.
    pub(crate) fn upgrade(weak: &Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Coordinator { inner })
    }

    // ----- lease steps (the logic is in locks.rs and guard.rs) -----

    pub(crate) async fn acquire_raw(&self, attempt: &Attempt<'_>) -> Result<Acquire> {
        on_backend!(self, b => b.acquire(attempt).await)
    }

    pub(crate) async fn abandon_wait(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
    ) -> Result<()> {
        on_backend!(self, b => b.abandon_wait(kind, name, owner).await)
    }

    /// [`Coordinator::abandon_wait`] from a destructor, on the current Tokio
    /// runtime (without one, the queue entry ages out within seconds).
    pub(crate) fn abandon_wait_in_background(&self, kind: LeaseKind, name: &str, owner: OwnerId) {
        if self.is_embedded() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let coord = self.clone();
            let name = name.to_owned();
            runtime.spawn(async move {
                let _ = coord.abandon_wait(kind, &name, owner).await;
            });
        }
    }

    pub(crate) fn wake_handle(&self, kind: LeaseKind, name: &str) -> Arc<Notify> {
        on_backend!(self, b => b.wake_handle(kind, name))
    }

    pub(crate) async fn renew_raw(
        &self,
        kind: LeaseKind,
        name: &str,
        owner: OwnerId,
        ttl: Duration,
    ) -> Result<bool> {
        on_backend!(self, b => b.renew(kind, name, owner, ttl).await)
    }

    pub(crate) async fn release_raw(&self, release: &Release<'_>) -> Result<Released> {
        on_backend!(self, b => b.release(release).await)
    }

    /// Releases from a destructor: synchronously embedded, on the current
    /// Tokio runtime for Redis (without one, the lease simply expires).
    pub(crate) fn release_in_background(&self, kind: LeaseKind, name: &str, owner: OwnerId) {
        let release = Release {
            kind,
            name,
            owner,
            token: 0,
            writes: &[],
        };
        match &self.inner.backend {
            Backend::Embedded(b) => {
                b.release_now(&release);
            }
            Backend::Redis(_) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let coord = self.clone();
                    let name = name.to_owned();
                    runtime.spawn(async move {
                        let release = Release {
                            kind,
                            name: &name,
                            owner,
                            token: 0,
                            writes: &[],
                        };
                        if let Err(err) = coord.release_raw(&release).await {
                            tracing::warn!(%err, "releasing {} {name:?} failed; it will expire", kind.label());
                        }
                    });
                }
            }
        }
    }

    // ----- counters -----

    /// Adds `delta` to counter `name` (created at 0) and returns the result.
    pub async fn counter_add(&self, name: &str, delta: i64) -> Result<i64> {
        validate::name("counter name", name)?;
        on_backend!(self, b => b.counter_add(name, delta).await)
    }

    /// Reads counter `name` (0 if it was never added to).
    pub async fn counter_get(&self, name: &str) -> Result<i64> {
        validate::name("counter name", name)?;
        on_backend!(self, b => b.counter_get(name).await)
    }

    // ----- versioned key-value -----

    /// Reads `key` with its version; `None` if absent or expired.
    pub async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        validate::name("key", key)?;
        on_backend!(self, b => b.kv_get(key).await)
    }

    /// Reads several keys with their versions (`None` for absent ones), in
    /// the order of `keys`, in one round trip on Redis. The reads are not
    /// one atomic snapshot; inside [`Coordinator::transact`] use
    /// [`crate::Tx::get_many`], whose commit checks every version.
    pub async fn get_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<Vec<Option<Versioned>>> {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        for key in &keys {
            validate::name("key", key)?;
        }
        on_backend!(self, b => b.kv_get_many(&keys).await)
    }

    /// Writes `key` (no expiry); returns the new version.
    pub async fn put(&self, key: &str, value: impl Into<Bytes>) -> Result<u64> {
        self.put_inner(key, value.into(), None).await
    }

    /// Writes `key`, which then expires after `ttl`; returns the new version.
    pub async fn put_with_ttl(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<u64> {
        validate::ttl("key TTL", ttl)?;
        self.put_inner(key, value.into(), Some(ttl)).await
    }

    async fn put_inner(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        validate::name("key", key)?;
        validate::value(key, value.len())?;
        on_backend!(self, b => b.kv_put(key, value, ttl).await)
    }

    /// Deletes `key`; `true` if it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        validate::name("key", key)?;
        on_backend!(self, b => b.kv_delete(key).await)
    }

    /// Writes `new` (or deletes, with `None`) only if `key` currently has
    /// version `expected` (`None` = must be absent).
    pub async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: Option<Bytes>,
    ) -> Result<CasOutcome> {
        validate::name("key", key)?;
        if let Some(value) = &new {
            validate::value(key, value.len())?;
        }
        on_backend!(self, b => b.kv_cas(key, expected, new.map(|v| (v, None))).await)
    }

    /// Writes `key` on behalf of the holder of `lock` with fencing `token`.
    /// The key remembers the newest token of `lock` it accepted and refuses
    /// older ones with [`CoordError::StaleToken`], so a holder whose lease
    /// silently expired cannot overwrite its successor's work.
    pub async fn put_fenced(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        lock: &str,
        token: u64,
    ) -> Result<u64> {
        let value = value.into();
        validate::name("key", key)?;
        validate::name("lock name", lock)?;
        validate::value(key, value.len())?;
        match on_backend!(self, b => b.kv_put_fenced(key, value, lock, token).await)? {
            Ok(version) => Ok(version),
            Err(newest) => Err(CoordError::StaleToken {
                key: validate::shorten(key),
                lock: validate::shorten(lock),
                token,
                newest,
            }),
        }
    }

    pub(crate) async fn commit_raw(
        &self,
        reads: &[(String, u64)],
        writes: &[(String, TxWrite)],
    ) -> Result<Option<Conflict>> {
        on_backend!(self, b => b.commit(reads, writes).await)
    }
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coordinator({})", self.inner.url)
    }
}
