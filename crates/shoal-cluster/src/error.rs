//! Cluster errors.

use std::time::Duration;

/// A cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The coordination URL is malformed or not a Redis URL.
    #[error("invalid --coord URL: {0}")]
    InvalidUrl(String),
    /// Redis did not answer within the allowed time.
    #[error("control plane {server} unreachable for {}s during {op}: {last}", .after.as_secs())]
    Unreachable {
        /// Redacted server URL.
        server: String,
        /// What was being done.
        op: &'static str,
        /// How long we kept trying.
        after: Duration,
        /// The last error seen.
        last: String,
    },
    /// Redis answered with an error that retrying will not fix.
    #[error("control plane {server} refused {op}: {message}")]
    Refused {
        /// Redacted server URL.
        server: String,
        /// What was being done.
        op: &'static str,
        /// Redis' error.
        message: String,
    },
    /// The job was given up for good: its driver could not renew its
    /// liveness for longer than its outage timeout, or a sweep ended it.
    #[error("job {job_id} was given up: {reason}")]
    GivenUp {
        /// The job.
        job_id: String,
        /// Why.
        reason: String,
    },
    /// No worker was alive to run the job.
    #[error("no live workers at {server} after waiting {}s (start some with 'shoal worker --coord ...')", .after.as_secs())]
    NoWorkers {
        /// Redacted server URL.
        server: String,
        /// How long we waited.
        after: Duration,
    },
    /// The shared store failed.
    #[error(transparent)]
    Store(#[from] shoal_store::StoreError),
    /// A message in Redis could not be decoded (see [`crate::protocol`]).
    #[error(transparent)]
    Decode(#[from] crate::protocol::DecodeError),
    /// A reply had an unexpected shape.
    #[error("unexpected reply to {op}: {detail}")]
    Protocol {
        /// The command.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
}
