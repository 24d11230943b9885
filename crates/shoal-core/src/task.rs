//! Tasks: their identity, their context, and what they hand back.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{
    Block, MemoryPool, Plan, ProgressEvent, ProgressSink, Reservation, ShuffleInput, SpillFile,
    SpillSpace, StageOutput, StageRef, TaskError, TaskMemory,
};

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
    /// map-partition order, as blocks to read on demand.
    fn shuffle_input(&self, from: StageRef, partition: u32) -> Result<ShuffleInput, TaskError>;
    /// The committed result blob of every task of stage `from`, in order.
    fn results_of(&self, from: StageRef) -> Result<Vec<Bytes>, TaskError>;
}

/// A task attempt's staged output, committed by the executor on success.
#[derive(Debug, Default)]
pub struct TaskOutput {
    /// Shuffle buckets still in memory (empty until the task writes one).
    /// Each bucket's bytes follow its pieces in `segments`.
    pub buckets: Vec<Vec<u8>>,
    /// Result blob.
    pub result: Option<Bytes>,
    /// Staged buckets the task already wrote to spill files because they
    /// outgrew its memory, oldest first.
    pub segments: Vec<Segment>,
}

impl TaskOutput {
    /// How many bytes the output holds: its buckets (spilled pieces
    /// included) and its result.
    pub fn len(&self) -> u64 {
        let staged: usize = self.buckets.iter().map(Vec::len).sum();
        // A segment's offsets start at 0: the last is its length.
        let spilled: u64 = self
            .segments
            .iter()
            .map(|s| s.offsets.last().copied().unwrap_or(0))
            .sum();
        let result = self.result.as_ref().map_or(0, Bytes::len);
        (staged + result) as u64 + spilled
    }

    /// Whether the output holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bucket `bucket` whole: its spilled pieces, then what is in memory.
    /// For committers that keep outputs as one object per task.
    pub fn bucket_bytes(&mut self, bucket: usize) -> Result<Vec<u8>, TaskError> {
        let tail = self
            .buckets
            .get_mut(bucket)
            .map(std::mem::take)
            .unwrap_or_default();
        if self.segments.is_empty() {
            return Ok(tail);
        }
        let mut out = Vec::new();
        for segment in &self.segments {
            if let Some(piece) = segment.piece(bucket) {
                out.extend_from_slice(&piece.read_all()?);
            }
        }
        out.extend_from_slice(&tail);
        Ok(out)
    }
}

/// Staged shuffle buckets written to a spill file: bucket *b* is bytes
/// `offsets[b]..offsets[b + 1]`.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The file.
    pub file: SpillFile,
    /// `buckets + 1` ascending offsets.
    pub offsets: Vec<u64>,
}

impl Segment {
    /// Bucket `bucket`'s piece, `None` when empty.
    pub fn piece(&self, bucket: usize) -> Option<Block> {
        let range = *self.offsets.get(bucket)?..*self.offsets.get(bucket + 1)?;
        (!range.is_empty()).then(|| Block::Spilled {
            file: self.file.clone(),
            range,
        })
    }
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
    memory: TaskMemory,
    spill: SpillSpace,
    /// What the staged buckets hold.
    staged: Option<Reservation>,
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
            memory: MemoryPool::unbounded().task(),
            spill: SpillSpace::new(std::env::temp_dir(), MemoryPool::unbounded()),
            staged: None,
        }
    }

    /// The same context drawing on `memory` (the task's share of its
    /// job's budget) and spilling to `spill`. Without it a task has an
    /// unbounded budget and never spills.
    pub fn with_resources(mut self, memory: TaskMemory, spill: SpillSpace) -> Self {
        self.memory = memory;
        self.spill = spill;
        self
    }

    /// This task's share of the memory budget, for operators' reservations.
    pub fn memory(&self) -> &TaskMemory {
        &self.memory
    }

    /// Where this task's operators write spill files.
    pub fn spill_space(&self) -> &SpillSpace {
        &self.spill
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

    /// Accounts the staged buckets against the task's memory and, when
    /// they no longer fit, writes them to a spill file as one segment and
    /// empties them. Writers of large outputs call it after each batch.
    pub fn spill_output_if_needed(&mut self) -> Result<(), TaskError> {
        let staged: u64 = self
            .output
            .buckets
            .iter()
            .map(|b| b.capacity() as u64)
            .sum();
        let reservation = self.staged.get_or_insert_with(|| self.memory.reservation());
        if reservation.try_resize(staged) {
            return Ok(());
        }
        let mut writer = self.spill.create()?;
        let mut offsets = Vec::with_capacity(self.output.buckets.len() + 1);
        offsets.push(0);
        for bucket in &mut self.output.buckets {
            writer.write(bucket)?;
            offsets.push(writer.len());
            *bucket = Vec::new();
        }
        reservation.free();
        self.progress.event(&ProgressEvent::Spilled {
            stage: self.stage,
            bytes: writer.len(),
        });
        self.output.segments.push(Segment {
            file: writer.finish()?,
            offsets,
        });
        Ok(())
    }

    /// This partition's bucket from every task of the shuffle stage `from`,
    /// as blocks read on demand.
    pub fn shuffle_input(&self, from: StageRef) -> Result<ShuffleInput, TaskError> {
        self.check_reads(from)?;
        if let StageOutput::Shuffle { buckets } = self.plan.stage(from).output {
            if self.partition >= buckets {
                return Err(TaskError::fatal(format!(
                    "partition {} reads bucket {} of stage {}, which has {buckets} (a one-bucket shuffle is read with broadcast_input)",
                    self.partition, self.partition, from.0
                )));
            }
        }
        self.data.shuffle_input(from, self.partition)
    }

    /// The single bucket of every task of stage `from` — a shuffle of one
    /// bucket, which every task of any later stage may read whole, as
    /// blocks read on demand (one per map task, in map order): a
    /// broadcast, for data every reader needs pieces of (e.g. sorted runs
    /// each reader takes its key range from).
    pub fn broadcast_input(&self, from: StageRef) -> Result<ShuffleInput, TaskError> {
        self.check_reads(from)?;
        match self.plan.stage(from).output {
            StageOutput::Shuffle { buckets: 1 } => self.data.shuffle_input(from, 0),
            output => Err(TaskError::fatal(format!(
                "stage {} is read as a broadcast but its output is {output:?}, not a shuffle of one bucket",
                from.0
            ))),
        }
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
