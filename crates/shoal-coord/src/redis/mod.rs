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
//! - waiters: `shoal:{family:NAME}:q` (zset `CLIENT|OWNER` → liveness),
//!   `...:s` (zset `CLIENT|OWNER` → first attempt) and `...:h` (hash: time
//!   of the last hand-off, `t` in ms and `u` in µs, waiter `m` until it
//!   claims it, `c` what claims have cost in µs); a lock held
//!   as `~CLIENT|OWNER`, or a semaphore holder of that name, is reserved
//!   for that waiter;
//! - wake-ups: each coordinator subscribes to its own channel
//!   `shoal:wake:CLIENT`; a release publishes `FAMILY:NAME` there for the
//!   waiter(s) it picks from the queue (see `lease_scripts.rs`).
//!
//! The braces keep every key of one lock in one Redis Cluster hash slot.
//! Key-value keys are not wrapped, so callers can choose hash tags for keys
//! that transactions touch together.

pub mod conn;
mod deferred;
mod lease_ops;
mod lease_scripts;
mod ops;
mod scripts;
pub mod sentinel;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod wake;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind, Value};

use crate::config::CoordConfig;
use crate::error::{CoordError, Result};
use crate::lease::{LeaseKind, OwnerId};
use crate::url::RedisTarget;

use self::conn::ConnectOptions;
use self::deferred::DeferredWakes;
use self::wake::WakeRegistry;

/// Coordination state on a Redis server.
pub struct RedisBackend {
    /// The live connection. Behind a Sentinel URL it is replaced when a
    /// failover moves the primary (see [`RedisBackend::follow_failover`]).
    conn: RwLock<ConnectionManager>,
    /// The target as the URL gave it: a server, or Sentinels to ask.
    target: RedisTarget,
    /// The server `conn` reaches; locked while a failover is being followed,
    /// so concurrent failing requests look the primary up once.
    primary: tokio::sync::Mutex<RedisTarget>,
    options: ConnectOptions,
    /// The URL with credentials redacted, for messages.
    server: String,
    op_timeout: Duration,
    /// Replicas that must acknowledge a lease grant (`WAIT`) before it is
    /// handed out; 0 for none.
    grant_replicas: usize,
    wake: Arc<WakeRegistry>,
    /// Wake-ups this client's releases left to it.
    deferred: DeferredWakes,
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
        let client_id = OwnerId::next().hex();
        let primary = resolve_primary(target, options.connect_timeout).await?;
        let conn = open_subscribed(&primary, &options, &wake, &client_id).await?;
        Ok(RedisBackend {
            conn: RwLock::new(conn),
            target: target.clone(),
            primary: tokio::sync::Mutex::new(primary),
            options,
            server: target.redacted(),
            op_timeout: config.op_timeout,
            grant_replicas: config
                .grant_replicas
                .unwrap_or(usize::from(target.sentinels.is_some())),
            wake,
            deferred: DeferredWakes::default(),
            client_id,
        })
    }

    /// Waits until `grant_replicas` of the primary's connected replicas hold
    /// every write sent so far on the connection (which includes the
    /// caller's grant), for at most half the operation timeout. With no
    /// replica connected there is none a failover could promote without the
    /// grant, so there is nothing to wait for.
    async fn wait_for_replicas(&self, op: &'static str) -> Result<()> {
        if self.grant_replicas == 0 {
            return Ok(());
        }
        let mut conn = self.conn();
        let role = self
            .run(op, &[], redis::cmd("ROLE").query_async::<Value>(&mut conn))
            .await;
        let wanted = match role {
            Ok(role) => self.grant_replicas.min(connected_replicas(&role)),
            // An ACL user may not be allowed ROLE (it is an admin command):
            // then the configured count applies as it is.
            Err(CoordError::Server { .. }) => self.grant_replicas,
            Err(err) => return Err(err),
        };
        if wanted == 0 {
            return Ok(());
        }
        let within = crate::validate::millis(self.op_timeout / 2);
        let mut wait = redis::cmd("WAIT");
        wait.arg(wanted).arg(within);
        let acked = self
            .run(op, &[], wait.query_async::<usize>(&mut conn))
            .await?;
        if acked < wanted {
            return Err(CoordError::NotReplicated {
                op,
                server: self.server.clone(),
                wanted,
                acked,
            });
        }
        Ok(())
    }

    /// A handle on the live connection (cheap: it is multiplexed).
    fn conn(&self) -> ConnectionManager {
        self.conn.read().clone()
    }

    /// After a connection failure behind a Sentinel URL: asks the Sentinels
    /// for the primary again and, if it moved, switches to it. The failed
    /// request still fails (it may or may not have been applied, so it is
    /// not replayed); the caller's next request reaches the new primary.
    /// Requests that fail while another one is already asking do not ask.
    async fn follow_failover(&self) {
        if self.target.sentinels.is_none() {
            return;
        }
        let Ok(mut current) = self.primary.try_lock() else {
            return;
        };
        let Ok(primary) = resolve_primary(&self.target, self.options.connect_timeout).await else {
            // No Sentinel answered: the next failing request asks again.
            return;
        };
        if primary.host == current.host && primary.port == current.port {
            return;
        }
        let opened = open_subscribed(&primary, &self.options, &self.wake, &self.client_id).await;
        if let Ok(conn) = opened {
            tracing::info!(
                from = %current.redacted(),
                to = %primary.redacted(),
                "coordination follows a Sentinel failover"
            );
            *self.conn.write() = conn;
            *current = primary;
            // Release messages published while we were away are lost.
            self.wake.wake_all();
        }
    }

    /// Runs one request with the operation timeout, mapping failures.
    async fn run<T>(
        &self,
        op: &'static str,
        keys: &[&str],
        request: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        let error = match tokio::time::timeout(self.op_timeout, request).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => self.map_err(op, keys, err),
            Err(_) => CoordError::Timeout {
                op,
                server: self.server.clone(),
                after: self.op_timeout,
            },
        };
        if matches!(
            error,
            CoordError::Connection { .. } | CoordError::Timeout { .. }
        ) {
            self.follow_failover().await;
        }
        Err(error)
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

/// `target` itself, or the primary its Sentinels name now. Sentinel
/// lookups are a few blocking round trips, kept off the async workers.
async fn resolve_primary(target: &RedisTarget, timeout: Duration) -> Result<RedisTarget> {
    let target = target.clone();
    tokio::task::spawn_blocking(move || sentinel::resolve_primary(&target, timeout))
        .await
        // Only a panic ends the lookup early: pass it on as a sync call would.
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}

/// A connection to `server` that delivers release notifications for
/// `client_id` to `wake`.
async fn open_subscribed(
    server: &RedisTarget,
    options: &ConnectOptions,
    wake: &Arc<WakeRegistry>,
    client_id: &str,
) -> Result<ConnectionManager> {
    let mut conn = conn::connect(server, options, Some(wake.push_sender())).await?;
    let subscribe = conn.subscribe(format!("shoal:wake:{client_id}"));
    match tokio::time::timeout(options.response_timeout, subscribe).await {
        Ok(Ok(())) => Ok(conn),
        Ok(Err(source)) => Err(CoordError::Connection {
            op: "subscribe",
            server: server.redacted(),
            source,
        }),
        Err(_) => Err(CoordError::Timeout {
            op: "subscribe",
            server: server.redacted(),
            after: options.response_timeout,
        }),
    }
}

/// How many replicas a `ROLE` reply of a primary lists (`["master",
/// offset, [[ip, port, offset], ...]]`); 0 for any other reply.
fn connected_replicas(role: &Value) -> usize {
    match role {
        Value::Array(fields) => match fields.get(2) {
            Some(Value::Array(replicas)) => replicas.len(),
            _ => 0,
        },
        _ => 0,
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
