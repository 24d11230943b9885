//! The Redis backend: every coordination step is one command or one Lua
//! script on a multiplexed, self-reconnecting connection, bounded by the
//! operation timeout.
//!
//! Key layout (all under `shoal:`):
//! - lock: `shoal:{lock:NAME}` (owner id, with PX expiry) and
//!   `shoal:{lock:NAME}:t` (last fencing token);
//! - semaphore: `shoal:{sem:NAME}` (zset owner → expiry ms) and `...:t`;
//! - rwlock: `shoal:{rw:NAME}:w` (writer), `...:r` (readers zset), `...:t`;
//! - counter: `shoal:ctr:NAME`;
//! - key-value: `shoal:kv:KEY`, a hash with `v` (value), `n` (version) and
//!   `f:LOCK` (newest fencing token of LOCK accepted), so all state of one
//!   key lives in one Redis key;
//! - waiters: `shoal:{family:NAME}:q` (zset `CLIENT|OWNER` → liveness);
//! - wake-ups: each coordinator subscribes to its own channel
//!   `shoal:wake:CLIENT`; a release publishes `FAMILY:NAME` there for the
//!   waiter(s) it picks from the queue.
//!
//! The braces keep every key of one lock in one Redis Cluster hash slot.
//! Key-value keys are not wrapped, so callers can choose hash tags for keys
//! that transactions touch together.

pub mod conn;
mod ops;
mod scripts;
pub mod sentinel;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod wake;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind};

use crate::coordinator::CoordConfig;
use crate::error::{CoordError, Result};
use crate::lease::{LeaseKind, OwnerId};
use crate::url::RedisTarget;

use self::conn::ConnectOptions;
use self::wake::WakeRegistry;

/// Coordination state on a Redis server.
pub struct RedisBackend {
    conn: ConnectionManager,
    server: String,
    op_timeout: Duration,
    wake: Arc<WakeRegistry>,
    /// This coordinator's id in waiter queues and its wake channel.
    client_id: String,
}

impl RedisBackend {
    /// Connects and subscribes to release notifications.
    pub async fn connect(target: &RedisTarget, config: &CoordConfig) -> Result<Self> {
        let wake = Arc::new(WakeRegistry::default());
        let options = ConnectOptions {
            connect_timeout: config.connect_timeout,
            response_timeout: config.op_timeout,
            ..ConnectOptions::default()
        };
        // Sentinel lookups are a few blocking round trips, once per connect.
        let to_resolve = target.clone();
        let timeout = config.connect_timeout;
        let target =
            &tokio::task::spawn_blocking(move || sentinel::resolve_primary(&to_resolve, timeout))
                .await
                // Only a panic ends the lookup early: pass it on as a sync call would.
                .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?;
        let mut conn = conn::connect(target, &options, Some(wake.push_sender())).await?;
        let client_id = OwnerId::next().hex();
        let channel = format!("shoal:wake:{client_id}");
        let backend = RedisBackend {
            conn: conn.clone(),
            server: target.redacted(),
            op_timeout: config.op_timeout,
            wake,
            client_id,
        };
        backend
            .run("subscribe", &[], conn.subscribe(channel))
            .await?;
        Ok(backend)
    }

    /// Runs one request with the operation timeout, mapping failures.
    async fn run<T>(
        &self,
        op: &'static str,
        keys: &[&str],
        request: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.op_timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.map_err(op, keys, err)),
            Err(_) => Err(CoordError::Timeout {
                op,
                server: self.server.clone(),
                after: self.op_timeout,
            }),
        }
    }

    fn map_err(&self, op: &'static str, keys: &[&str], source: RedisError) -> CoordError {
        let server = self.server.clone();
        match source.kind() {
            ErrorKind::Server(ServerErrorKind::CrossSlot) => CoordError::CrossSlot {
                op,
                keys: keys.iter().map(|k| user_key(k).to_owned()).collect(),
            },
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::ReadOnly,
            )
            | ErrorKind::Io
            | ErrorKind::Parse => CoordError::Connection { op, server, source },
            _ if source.is_timeout()
                || source.is_connection_dropped()
                || source.is_connection_refusal()
                || source.is_io_error() =>
            {
                CoordError::Connection { op, server, source }
            }
            _ => CoordError::Server { op, server, source },
        }
    }

    /// This coordinator's entry for `owner` in a waiter queue.
    fn waiter_member(&self, owner: OwnerId) -> String {
        format!("{}|{}", self.client_id, owner.hex())
    }

    fn protocol(&self, op: &'static str, detail: &'static str) -> CoordError {
        CoordError::Protocol {
            op,
            server: self.server.clone(),
            detail,
        }
    }
}

/// The Redis key of a key-value entry.
fn kv_key(key: &str) -> String {
    format!("shoal:kv:{key}")
}

/// The user key back from a Redis key, for error messages.
fn user_key(redis_key: &str) -> &str {
    redis_key.strip_prefix("shoal:kv:").unwrap_or(redis_key)
}

/// The base of a lease's keys: `shoal:{family:NAME}`.
fn lease_base(kind: LeaseKind, name: &str) -> String {
    format!("shoal:{{{}:{name}}}", kind.family())
}

/// What a release publishes to wake a lease's waiters: `family:NAME`.
fn wake_payload(kind: LeaseKind, name: &str) -> String {
    format!("{}:{name}", kind.family())
}
