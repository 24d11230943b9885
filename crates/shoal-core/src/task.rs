//! Tasks: their identity, their context, and what they hand back.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Plan, ProgressEvent, ProgressSink, StageOutput, StageRef, TaskError};

/// Everything that identifies one task attempt. With the job's name and
/// parameters, any node holding the binary can rebuild and run it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskId {
    /// The job run.
    pub job_id: String,
    /// Stage index in the plan.
    pub stage: u32,
    /// Partition within the stage.
    pub partition: u32,
    /// 0-based attempt number.
    pub attempt: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/s{}/p{}/a{}",
            self.job_id, self.stage, self.partition, self.attempt
        )
    }
}

/// Where a task reads earlier stages' committed outputs from: memory and
/// spill files in embedded mode, the shared store in cluster mode.
pub trait StageData: Sync {
    /// Bucket `partition` of every committed map task of stage `from`, in
    /// map-partition order.
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<Vec<Bytes>, TaskError>;
    /// The committed result blob of every task of stage `from`, in order.
    fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError>;
}

/// A task attempt's staged output, committed by the executor on success.
#[derive(Debug, Default)]
pub struct TaskOutput {
    /// Shuffle buckets (empty until the task writes one).
    pub buckets: Vec<Vec<u8>>,
    /// Result blob.
    pub result: Option<Bytes>,
}

/// What a running task sees: its identity, its inputs, its staged output.
pub struct TaskContext<'a> {
    job_id: &'a str,
    plan: &'a Plan,
    stage: u32,
    partition: u32,
    attempt: u32,
    data: &'a dyn StageData,
    progress: &'a dyn ProgressSink,
    cancelled: &'a AtomicBool,
    output: TaskOutput,
}

impl<'a> TaskContext<'a> {
    /// A context for attempt `attempt` of `partition` of `stage`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_id: &'a str,
        plan: &'a Plan,
        stage: u32,
        partition: u32,
        attempt: u32,
        data: &'a dyn StageData,
        progress: &'a dyn ProgressSink,
        cancelled: &'a AtomicBool,
    ) -> Self {
        TaskContext {
            job_id,
            plan,
            stage,
            partition,
            attempt,
            data,
            progress,
            cancelled,
            output: TaskOutput::default(),
        }
    }

    /// The task's identity.
    pub fn id(&self) -> TaskId {
        TaskId {
            job_id: self.job_id.to_string(),
            stage: self.stage,
            partition: self.partition,
            attempt: self.attempt,
        }
    }

    /// This task's partition index.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// How many tasks the stage has.
    pub fn partitions(&self) -> u32 {
        self.plan.stage(StageRef(self.stage)).partitions
    }

    /// The 0-based attempt number.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The buffer of shuffle bucket `bucket`. Bytes appended here are
    /// staged and become visible to readers only when the attempt commits.
    pub fn bucket(&mut self, bucket: u32) -> &mut Vec<u8> {
        let StageOutput::Shuffle { buckets } = self.plan.stage(StageRef(self.stage)).output else {
            panic!(
                "stage {} writes results, not shuffle buckets",
                self.plan.stage(StageRef(self.stage)).name
            );
        };
        assert!(
            bucket < buckets,
            "bucket {bucket} out of range: the stage has {buckets} buckets"
        );
        if self.output.buckets.is_empty() {
            self.output.buckets = vec![Vec::new(); buckets as usize];
        }
        &mut self.output.buckets[bucket as usize]
    }

    /// Every shuffle bucket buffer at once, for writers that route rows
    /// to many buckets in a tight loop.
    pub fn buckets(&mut self) -> &mut [Vec<u8>] {
        self.bucket(0);
        &mut self.output.buckets
    }

    /// This partition's bucket from every task of the shuffle stage `from`.
    pub fn shuffle_input(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError> {
        self.check_reads(from)?;
        self.data.shuffle_input(from, self.partition)
    }

    /// The result blob of every task of stage `from`, in partition order.
    pub fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError> {
        self.check_reads(from)?;
        self.data.results_of(from)
    }

    fn check_reads(&self, from: StageRef) -> Result<(), TaskError> {
        let stage = self.plan.stage(StageRef(self.stage));
        if stage.reads.contains(&from) {
            Ok(())
        } else {
            Err(TaskError::fatal(format!(
                "stage '{}' reads stage {} without declaring it (Stage::reads)",
                stage.name, from.0
            )))
        }
    }

    /// Sets this task's result blob (staged until commit).
    pub fn set_result(&mut self, result: Bytes) {
        self.output.result = Some(result);
    }

    /// Reports processed input for progress display. Call it every few
    /// thousand rows, not per row.
    pub fn add_progress(&self, rows: u64, bytes: u64) {
        self.progress.event(&ProgressEvent::Processed {
            stage: self.stage,
            rows,
            bytes,
        });
    }

    /// Whether the job was cancelled; long tasks should check and return.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Takes the staged output (the executor commits it).
    pub fn into_output(self) -> TaskOutput {
        self.output
    }
}
