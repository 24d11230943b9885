//! [`Coordinator`]: the handle every caller uses, whatever the backend.
//!
//! It picks the backend from the URL and dispatches each step to it,
//! statically (the backend and the lease steps live in `shared.rs`, which
//! guards hold too). Leases are taken in `locks.rs` (waiting with pub/sub
//! wake-ups plus bounded, jittered backoff — never busy polling) and held
//! through [`crate::Guard`]s; transactions are in `txn.rs`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::CoordBackend;
use crate::config::CoordConfig;
use crate::error::{CoordError, Result};
use crate::kv::{CasOutcome, Versioned};
use crate::redis::RedisBackend;
use crate::shared::{on_backend, Backend, Shared};
use crate::url::CoordUrl;
use crate::validate;

/// A cheap, cloneable handle on coordination state (embedded or Redis).
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Shared>,
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
            inner: Shared::new(url.clone(), config, backend),
        })
    }

    /// A fresh in-process coordinator. State lives as long as some clone of
    /// the handle does, and is shared only by those clones.
    pub fn embedded() -> Self {
        Coordinator {
            inner: Shared::new(
                CoordUrl::Embedded,
                CoordConfig::default(),
                Backend::Embedded(Box::default()),
            ),
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

    /// What this handle shares with its clones and its guards.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner
    }

    // ----- counters -----

    /// Adds `delta` to counter `name` (created at 0) and returns the result.
    pub async fn counter_add(&self, name: &str, delta: i64) -> Result<i64> {
        validate::name("counter name", name)?;
        on_backend!(self.inner, b => b.counter_add(name, delta).await)
    }

    /// Reads counter `name` (0 if it was never added to).
    pub async fn counter_get(&self, name: &str) -> Result<i64> {
        validate::name("counter name", name)?;
        on_backend!(self.inner, b => b.counter_get(name).await)
    }

    // ----- versioned key-value -----

    /// Reads `key` with its version; `None` if absent or expired.
    pub async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        validate::name("key", key)?;
        on_backend!(self.inner, b => b.kv_get(key).await)
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
        on_backend!(self.inner, b => b.kv_get_many(&keys).await)
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
        on_backend!(self.inner, b => b.kv_put(key, value, ttl).await)
    }

    /// Deletes `key`; `true` if it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        validate::name("key", key)?;
        on_backend!(self.inner, b => b.kv_delete(key).await)
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
        on_backend!(self.inner, b => b.kv_cas(key, expected, new.map(|v| (v, None))).await)
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
        match on_backend!(self.inner, b => b.kv_put_fenced(key, value, lock, token).await)? {
            Ok(version) => Ok(version),
            Err(newest) => Err(CoordError::StaleToken {
                key: validate::shorten(key),
                lock: validate::shorten(lock),
                token,
                newest,
            }),
        }
    }
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coordinator({})", self.inner.url)
    }
}
