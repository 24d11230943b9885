//! Task entries: what a driver queues for one attempt of one task.

use super::{describe_entry, field, FieldSink, Fields};
use crate::protocol::DecodeError;
use crate::reply::Entry;

/// One attempt of one task of a job's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskRef {
    /// Stage index in the plan.
    pub stage: u32,
    /// Partition within the stage.
    pub partition: u32,
    /// Attempt number, from 0.
    pub attempt: u32,
}

/// A task stream entry: run `task` of job run `job_id`. The job's spec is
/// in the job's hash, read once per job by each worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEntry {
    /// The job run's id.
    pub job_id: String,
    /// Which attempt of which task.
    pub task: TaskRef,
}

impl TaskEntry {
    /// Appends the entry's fields (after `XADD key id`).
    pub(crate) fn encode(&self, out: &mut impl FieldSink) {
        out.field(field::JOB, &self.job_id);
        self.task.encode(out);
    }

    /// Reads an entry of task stream `stream`.
    pub(crate) fn decode(stream: &str, entry: &Entry) -> Result<TaskEntry, DecodeError> {
        let fields = Fields {
            describe: &|| describe_entry("task entry", stream, entry),
            pairs: &entry.fields,
        };
        Ok(TaskEntry {
            job_id: fields.text(field::JOB)?.to_string(),
            task: TaskRef::decode(&fields)?,
        })
    }
}

impl TaskRef {
    pub(super) fn encode(&self, out: &mut impl FieldSink) {
        out.field(field::STAGE, self.stage);
        out.field(field::PARTITION, self.partition);
        out.field(field::ATTEMPT, self.attempt);
    }

    pub(super) fn decode(fields: &Fields<'_>) -> Result<TaskRef, DecodeError> {
        Ok(TaskRef {
            stage: fields.num(field::STAGE)?,
            partition: fields.num(field::PARTITION)?,
            attempt: fields.num(field::ATTEMPT)?,
        })
    }
}
