//! The control-plane connection: one synchronous Redis connection with
//! per-command timeouts and reconnection with backoff.
//!
//! Synchronous on purpose: the driver and worker loops are plain threads
//! that block on Redis or on tasks, and task code blocks on the store;
//! mixing that with an async runtime buys nothing here and risks blocking
//! a reactor. Each loop owns its own `Control`, so a blocking stream read
//! never delays a heartbeat.

use std::time::{Duration, Instant};

use redis::{Client, Connection, ErrorKind, RedisError, RedisResult};
use shoal_coord::{CoordUrl, RedisTarget};

use crate::ClusterError;

/// A self-healing connection to the Redis control plane.
pub struct Control {
    /// Where to connect; a Sentinel target is resolved on every connect,
    /// so a reconnect after a failover reaches the new primary.
    target: RedisTarget,
    /// The client for a fixed server (none for a Sentinel target).
    client: Option<Client>,
    server: String,
    conn: Option<Connection>,
    timeout: Duration,
    outage: Duration,
    /// Transient failures so far: each may have lost a reply Redis sent.
    interruptions: u64,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Control({})", self.server)
    }
}

/// Parses a `redis://`, `rediss://` or `redis+sentinel://` URL (anything
/// else is an error).
pub fn parse_target(url: &str) -> Result<RedisTarget, ClusterError> {
    match CoordUrl::parse(url) {
        Ok(CoordUrl::Redis(target)) => Ok(target),
        Ok(CoordUrl::Embedded) => Err(ClusterError::InvalidUrl(
            "cluster mode needs a redis://, rediss:// or redis+sentinel:// URL, not embedded://"
                .into(),
        )),
        Err(err) => Err(ClusterError::InvalidUrl(err.to_string())),
    }
}

fn is_transient(err: &RedisError) -> bool {
    if is_tls_rejection(err) {
        return false;
    }
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(err.kind(), ErrorKind::Io | ErrorKind::Server(_))
            && err.code().is_some_and(|c| {
                // READONLY: a former primary demoted by a failover.
                c == "LOADING" || c == "TRYAGAIN" || c == "READONLY" || c == "MASTERDOWN"
            })
}

/// A TLS handshake refused over certificates (untrusted issuer, wrong name,
/// expired): rustls reports it as invalid data, and every retry would fail
/// the same way, so it is not waited out like an outage.
fn is_tls_rejection(err: &RedisError) -> bool {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    // The client library keeps the I/O error behind an Arc.
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<Shared>())
        .and_then(|shared| shared.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
}

impl Control {
    /// A connection to `url`: `timeout` bounds each command, and `outage`
    /// bounds how long a command keeps retrying through reconnects before
    /// it fails with [`ClusterError::Unreachable`]. Connects lazily.
    pub fn open(url: &str, timeout: Duration, outage: Duration) -> Result<Control, ClusterError> {
        let target = parse_target(url)?;
        let server = target.redacted();
        let client = match target.sentinels {
            Some(_) => None,
            None => Some(client_for(&target)?),
        };
        Ok(Control {
            target,
            client,
            server,
            conn: None,
            timeout,
            outage,
            interruptions: 0,
        })
    }

    /// The server URL with credentials redacted, for messages.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Another connection to the same server with the same limits.
    pub fn reopen(&self) -> Control {
        Control {
            target: self.target.clone(),
            client: self.client.clone(),
            server: self.server.clone(),
            conn: None,
            timeout: self.timeout,
            outage: self.outage,
            interruptions: 0,
        }
    }

    fn connection(&mut self, extra_read: Duration) -> RedisResult<&mut Connection> {
        if self.conn.is_none() {
            let conn = match &self.client {
                Some(client) => client.get_connection_with_timeout(self.timeout)?,
                None => self
                    .primary_client()?
                    .get_connection_with_timeout(self.timeout)?,
            };
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("just connected");
        conn.set_read_timeout(Some(self.timeout + extra_read))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }

    /// A client for the primary the Sentinels name right now. A failed
    /// lookup is an I/O error, so `run` keeps retrying it through a failover.
    fn primary_client(&self) -> RedisResult<Client> {
        let io = |detail: String| RedisError::from(std::io::Error::other(detail));
        let primary = shoal_coord::redis::sentinel::resolve_primary(&self.target, self.timeout)
            .map_err(|e| io(e.to_string()))?;
        client_for(&primary).map_err(|e| io(e.to_string()))
    }

    /// Runs `command`, reconnecting and retrying through transient faults
    /// for up to the outage limit, counted from the first failure (a
    /// process stopped mid-command and resumed sees one failure, not an
    /// outage). `blocking` is how long the command may legitimately block
    /// server-side (XREAD BLOCK), added to the read timeout.
    pub fn run<T>(
        &mut self,
        op: &'static str,
        blocking: Duration,
        mut command: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, ClusterError> {
        let mut failing_since: Option<Instant> = None;
        let mut delay = Duration::from_millis(20);
        loop {
            let outcome = self.connection(blocking).and_then(&mut command);
            match outcome {
                Ok(value) => return Ok(value),
                Err(err) if is_transient(&err) => {
                    self.conn = None;
                    self.interruptions += 1;
                    let started = *failing_since.get_or_insert_with(Instant::now);
                    if started.elapsed() >= self.outage {
                        return Err(ClusterError::Unreachable {
                            server: self.server.clone(),
                            op,
                            after: started.elapsed(),
                            last: err.to_string(),
                        });
                    }
                    std::thread::sleep(jitter(delay));
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(err) => {
                    return Err(ClusterError::Refused {
                        server: self.server.clone(),
                        op,
                        message: err.to_string(),
                    })
                }
            }
        }
    }

    /// How many commands of this connection have failed transiently so far
    /// (and were retried or given up on). Redis may have carried out such a
    /// command and sent a reply that was lost with the connection — a
    /// process stopped by SIGSTOP wakes from a socket read with a timeout
    /// with EINTR, whatever arrived meanwhile — so a caller whose command
    /// is not idempotent (a claim delivers entries once) compares this
    /// before and after to know it must find out what happened.
    pub fn interruptions(&self) -> u64 {
        self.interruptions
    }

    /// The server's run id, which changes when Redis restarts (and with it,
    /// without persistence, every key is gone).
    pub fn run_id(&mut self) -> Result<String, ClusterError> {
        let info: String = self.run("INFO server", Duration::ZERO, |c| {
            redis::cmd("INFO").arg("server").query(c)
        })?;
        info.lines()
            .find_map(|l| l.strip_prefix("run_id:"))
            .map(|id| id.trim().to_string())
            .ok_or_else(|| ClusterError::Protocol {
                op: "INFO server",
                detail: "no run_id".into(),
            })
    }

    /// Creates the consumer group of task stream `stream` (and the stream)
    /// if missing, and lists the stream for `shoal status`.
    pub fn ensure_group(&mut self, stream: &str) -> Result<(), ClusterError> {
        let created: Result<(), ClusterError> = self.run("XGROUP CREATE", Duration::ZERO, |c| {
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(crate::keys::GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query(c)
        });
        match created {
            Err(ClusterError::Refused { message, .. }) if message.contains("BUSYGROUP") => {}
            other => other?,
        }
        // Listed only once its group exists, so status can always ask it.
        self.run("SADD queues", Duration::ZERO, |c| {
            redis::cmd("SADD")
                .arg(crate::keys::QUEUES)
                .arg(stream)
                .query::<()>(c)
        })
    }
}

fn client_for(target: &RedisTarget) -> Result<Client, ClusterError> {
    shoal_coord::redis::conn::client(target).map_err(|e| ClusterError::InvalidUrl(e.to_string()))
}

/// Backoff with ±50% jitter, so many workers reconnecting after an outage
/// do not stampede the server in lockstep.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let spread = delay.as_micros() as u64;
    Duration::from_micros(spread / 2 + nanos % (spread + 1))
}

impl ClusterError {
    /// Whether Redis said the consumer group (or the stream) is missing,
    /// which happens after a restart that lost its data.
    pub fn is_no_group(&self) -> bool {
        matches!(self, ClusterError::Refused { message, .. } if message.contains("NOGROUP"))
    }
}
