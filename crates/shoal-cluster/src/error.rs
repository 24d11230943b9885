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
    /// No live worker runs the job (holds its fingerprint), and none has
    /// for as long as the driver waits.
    #[error(
        "no live worker at {server} runs job '{job}' (none for {}s; start workers of a binary that has this job, or wait longer with --wait-for-workers); {}",
        .after.as_secs(),
        describe_offers(.workers)
    )]
    NoCapableWorkers {
        /// The job's fingerprint (`name@version`).
        job: String,
        /// Redacted server URL.
        server: String,
        /// How long no live worker offered the job.
        after: Duration,
        /// The live workers seen, with the jobs they run.
        workers: Vec<WorkerOffer>,
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

/// A live worker and the jobs it runs, as a driver saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOffer {
    /// The worker's name.
    pub worker: String,
    /// Fingerprints of the jobs it runs; `None` when its registration
    /// could not be read.
    pub jobs: Option<Vec<String>>,
}

fn describe_offers(workers: &[WorkerOffer]) -> String {
    if workers.is_empty() {
        return "no workers are live".to_string();
    }
    let each: Vec<String> = workers
        .iter()
        .map(|w| match &w.jobs {
            Some(jobs) if jobs.is_empty() => format!("{} runs no jobs", w.worker),
            Some(jobs) => format!("{} runs {}", w.worker, jobs.join(", ")),
            None => format!("{} (unreadable registration)", w.worker),
        })
        .collect();
    format!("live workers: {}", each.join("; "))
}
