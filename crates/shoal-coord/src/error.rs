//! Typed failures of every coordination operation.
//!
//! Each variant names the operation and the input at fault, so a caller can
//! print it as one line. [`CoordError::is_retryable`] separates transient
//! trouble (a dropped connection, a timeout, contention) from mistakes that
//! will fail again the same way (a bad name, a stale fencing token).

use std::time::Duration;

/// Why a lease (lock, permit, read or write hold) stopped being ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// The lease ran past its TTL without a successful renewal (the holder
    /// paused, or renewal was off).
    Expired,
    /// The backend no longer lists us as the holder (it expired there and
    /// may already belong to someone else, or the server lost its data).
    Stolen,
    /// Renewals kept failing (server unreachable) until the lease ran out.
    Unreachable,
}

impl std::fmt::Display for LostReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LostReason::Expired => "lease expired before it was renewed",
            LostReason::Stolen => "the server no longer lists this holder",
            LostReason::Unreachable => "renewal failed until the lease ran out",
        })
    }
}

/// Every way a coordination call can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordError {
    /// A lock, counter or key name is empty, too long, or otherwise unusable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// Which kind of name ("lock name", "key", ...).
        what: &'static str,
        /// The offending name (truncated to 80 characters for display).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A duration option (TTL, wait, timeout) is out of range.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidDuration {
        /// Which option ("lease TTL", "key TTL", ...).
        what: &'static str,
        /// The value given.
        value: Duration,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Some other option is out of range (permits, value size, ...).
    #[error("invalid {what} {value}: {reason}")]
    InvalidOption {
        /// Which option.
        what: &'static str,
        /// The value given, rendered.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The coordinator URL cannot be used. The URL is shown with any
    /// password replaced by `***`.
    #[error("invalid coordination URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No Sentinel of a `redis+sentinel://` URL monitors a primary of
    /// the given name.
    #[error("no Sentinel of {url} knows a primary named {primary:?}")]
    UnknownPrimary {
        /// The URL, password redacted.
        url: String,
        /// The primary's name from the URL.
        primary: String,
    },
    /// `rediss://` was requested but this build has no TLS support.
    #[error("cannot open {url}: this build of shoal-coord has no TLS support (enable the `tls` feature)")]
    TlsUnsupported {
        /// The URL, password redacted.
        url: String,
    },
    /// A certificate file named by a `rediss://` URL cannot be read.
    #[error("cannot read the TLS {what} {path} named by {url}: {source}")]
    TlsFile {
        /// "CA bundle", "client certificate" or "client key".
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The URL, password redacted.
        url: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// An operation did not finish within its timeout. The server may or
    /// may not have applied it.
    #[error("{op} on {server} timed out after {after:?}")]
    Timeout {
        /// The operation ("lock acquire", "kv put", ...).
        op: &'static str,
        /// The server, password redacted.
        server: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// Waiting for a lock, permit or read/write hold ran out of time.
    #[error("gave up waiting for {kind} {name:?} after {waited:?}: still held by someone else")]
    WaitTimeout {
        /// "lock", "semaphore", "read lock" or "write lock".
        kind: &'static str,
        /// The resource name.
        name: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The connection to the server failed (refused, dropped, still loading).
    /// The operation may be retried; the connection is being re-established.
    #[error("{op} failed talking to {server}: {source}")]
    Connection {
        /// The operation.
        op: &'static str,
        /// The server, password redacted.
        server: String,
        /// The client library's error.
        #[source]
        source: redis::RedisError,
    },
    /// A lease was granted but too few replicas acknowledged it in time
    /// (see `CoordConfig::grant_replicas`), so it was given back: after a
    /// failover it could have been forgotten. Retry once replicas catch up.
    #[error("{op} on {server}: only {acked} of {wanted} replica(s) acknowledged the grant in time, so it was given back")]
    NotReplicated {
        /// The operation.
        op: &'static str,
        /// The server, password redacted.
        server: String,
        /// Replicas required.
        wanted: usize,
        /// Replicas that acknowledged.
        acked: usize,
    },
    /// The server refused the command (wrong type, no permission, script
    /// error). Retrying will not help.
    #[error("{server} rejected {op}: {source}")]
    Server {
        /// The operation.
        op: &'static str,
        /// The server, password redacted.
        server: String,
        /// The server's error.
        #[source]
        source: redis::RedisError,
    },
    /// Keys touched together live in different Redis Cluster hash slots.
    #[error("{op} touches keys {keys:?} that map to different Redis Cluster hash slots; give them a common hash tag, e.g. \"{{bank}}:alice\" and \"{{bank}}:bob\"")]
    CrossSlot {
        /// The operation.
        op: &'static str,
        /// The user keys involved.
        keys: Vec<String>,
    },
    /// The server answered with something this crate did not expect.
    #[error("unexpected reply from {server} to {op}: {detail}")]
    Protocol {
        /// The operation.
        op: &'static str,
        /// The server, password redacted.
        server: String,
        /// What was wrong with the reply.
        detail: &'static str,
    },
    /// A transaction kept conflicting with concurrent writers and gave up.
    #[error("transaction gave up after {attempts} attempts: key {key:?} kept changing under it")]
    Conflict {
        /// Attempts made, including the first.
        attempts: u32,
        /// A key whose version changed between read and commit.
        key: String,
    },
    /// A transaction commit failed in a way that leaves its outcome unknown
    /// (the connection dropped after the request was sent). Retrying is only
    /// safe if the transaction is idempotent (e.g. it records a unique id).
    #[error("outcome of the transaction commit is unknown: {source}")]
    CommitUnknown {
        /// The transport failure.
        #[source]
        source: Box<CoordError>,
    },
    /// `put_fenced` was given a token older than one the key already accepted.
    #[error("key {key:?} refused fencing token {token} of lock {lock:?}: it already accepted token {newest}")]
    StaleToken {
        /// The key written.
        key: String,
        /// The lock whose token was presented.
        lock: String,
        /// The token presented.
        token: u64,
        /// The newest token the key has accepted.
        newest: u64,
    },
    /// The lease behind a guard is gone, so an owner-only action failed.
    #[error("{kind} {name:?} is no longer held by this guard: {reason}")]
    LeaseLost {
        /// "lock", "semaphore", "read lock" or "write lock".
        kind: &'static str,
        /// The resource name.
        name: String,
        /// Why it was lost.
        reason: LostReason,
    },
}

impl CoordError {
    /// Whether the same call may succeed if tried again later: transport
    /// failures, timeouts, contention and unknown commit outcomes. Input
    /// mistakes, server refusals and stale tokens are not retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CoordError::Timeout { .. }
                | CoordError::WaitTimeout { .. }
                | CoordError::Connection { .. }
                | CoordError::NotReplicated { .. }
                | CoordError::Conflict { .. }
                | CoordError::CommitUnknown { .. }
        )
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CoordError> = std::result::Result<T, E>;
