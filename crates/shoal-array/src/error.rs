//! Typed errors of DistArray operations.

use shoal_core::{JobError, TaskError};
use shoal_store::StoreError;

/// A DistArray operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    /// The job that runs the operation failed (a task failed on every
    /// attempt, the executor gave up, ...).
    #[error("{action}: {source}")]
    Job {
        /// The action that ran the job, e.g. `collect`.
        action: &'static str,
        /// The runtime's error.
        #[source]
        source: Box<JobError>,
    },
    /// Reading or writing a store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block of encoded elements does not decode.
    #[error("corrupt data in {what}: {reason}")]
    Corrupt {
        /// Which data, e.g. `result of partition 3`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two arrays that must have equal lengths (`zip`) do not.
    #[error("zip needs arrays of equal length: left has {left} elements, right has {right}")]
    LengthMismatch {
        /// Length of the left array.
        left: u64,
        /// Length of the right array.
        right: u64,
    },
    /// A global index is past the end of the array.
    #[error("index {index} is out of bounds for an array of {len} elements")]
    IndexOutOfBounds {
        /// The index asked for.
        index: u64,
        /// The array's length.
        len: u64,
    },
    /// A saved array's manifest is missing, unreadable or inconsistent.
    #[error("bad array manifest at {url}: {reason}")]
    Manifest {
        /// The manifest's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A saved array holds elements of another type than the one asked for.
    #[error("array at {url} holds '{found}', not '{expected}'")]
    TypeMismatch {
        /// The array's URL.
        url: String,
        /// The element type the caller asked for.
        expected: String,
        /// The element type the manifest records.
        found: String,
    },
    /// Columns that do not fit the element type: a Parquet file without a
    /// named column or with one of another type, or column names that do
    /// not match the element's columns.
    #[error("{url}: {reason}")]
    Schema {
        /// The file or directory at fault.
        url: String,
        /// What does not fit, naming the column.
        reason: String,
    },
    /// An input file cannot be listed or read while planning.
    #[error("cannot read input '{path}': {reason}")]
    Input {
        /// The file or directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The session cannot run jobs: a planning session (inside
    /// `ArrayJob::build` on a worker) or a cluster session asked to run an
    /// inline pipeline that no registered job can rebuild.
    #[error("{action} needs to run a job, but this session {why}")]
    NotRunnable {
        /// The action that needed to run.
        action: &'static str,
        /// Why the session cannot run it.
        why: &'static str,
    },
}

impl ArrayError {
    pub(crate) fn job(action: &'static str, source: JobError) -> Self {
        ArrayError::Job {
            action,
            source: Box::new(source),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> Self {
        ArrayError::Corrupt {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Whether the caller's input is at fault (bad file, wrong type,
    /// mismatched lengths, bad index) rather than the runtime.
    pub fn is_user_input(&self) -> bool {
        match self {
            ArrayError::Job { source, .. } => source.is_user_input(),
            ArrayError::LengthMismatch { .. }
            | ArrayError::IndexOutOfBounds { .. }
            | ArrayError::TypeMismatch { .. }
            | ArrayError::Schema { .. }
            | ArrayError::Input { .. } => true,
            _ => false,
        }
    }
}

/// A task-side decoding failure: Shoal wrote these bytes, so it would
/// repeat on every attempt.
pub(crate) fn corrupt_task(what: &str, reason: impl std::fmt::Display) -> TaskError {
    TaskError::fatal(format!("corrupt data in {what}: {reason}"))
}
