//! Progress events: what the runtime reports while a job runs.

use std::time::Duration;

use crate::{MemoryStats, TaskError};

/// Something that happened while running a job.
#[derive(Debug)]
pub enum ProgressEvent<'a> {
    /// A stage's tasks are about to run.
    StageStarted {
        /// Stage index.
        stage: u32,
        /// Stage name.
        name: &'a str,
        /// Number of tasks.
        tasks: u32,
    },
    /// A task processed more input (reported by the task itself).
    Processed {
        /// Stage index.
        stage: u32,
        /// Rows since the last report.
        rows: u64,
        /// Bytes since the last report.
        bytes: u64,
    },
    /// Output or operator state did not fit the memory budget and was
    /// written to a spill file in the work directory.
    Spilled {
        /// Stage index.
        stage: u32,
        /// Bytes spilled.
        bytes: u64,
    },
    /// A task attempt committed its output.
    TaskFinished {
        /// Stage index.
        stage: u32,
        /// Partition.
        partition: u32,
        /// Attempt that committed.
        attempt: u32,
        /// Bytes of output the attempt committed: its shuffle buckets and
        /// its result.
        bytes_out: u64,
    },
    /// A task attempt failed.
    TaskFailed {
        /// Stage index.
        stage: u32,
        /// Partition.
        partition: u32,
        /// Attempt that failed.
        attempt: u32,
        /// Why.
        error: &'a TaskError,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// The job succeeded: what it held at its peak and spilled.
    Memory(MemoryStats),
    /// Every task of a stage committed.
    StageFinished {
        /// Stage index.
        stage: u32,
        /// Stage name.
        name: &'a str,
        /// Wall time of the stage.
        elapsed: Duration,
    },
}

/// Receives progress events. Called from many task threads at once, so it
/// must be cheap and thread-safe; the CLI renders bars or log lines.
pub trait ProgressSink: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &ProgressEvent<'_>);
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _event: &ProgressEvent<'_>) {}
}
