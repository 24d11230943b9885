//! Events on a job's event stream: the driver's opening marker, and the
//! report of every attempt a worker took up.

use shoal_core::{Bytes, TaskErrorKind};

use super::{describe_entry, field, FieldProblem, FieldSink, Fields, TaskRef};
use crate::protocol::DecodeError;
use crate::reply::Entry;

/// Values of the kind field.
const START: &str = "start";
const DONE: &str = "done";
const FAIL: &str = "fail";
const SKIP: &str = "skip";

/// What a worker did with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The attempt.
    pub task: TaskRef,
    /// The worker's name.
    pub worker: String,
    /// When the worker took the attempt up (Unix time, µs, its clock).
    pub started_us: u64,
    /// When it had an outcome (Unix time, µs, its clock).
    pub ended_us: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed. `result` is the task's result when it travels inline
    /// (small); otherwise it is in the store, or the task has none.
    Done {
        /// Rows the task processed.
        rows: u64,
        /// Input bytes the task processed.
        bytes: u64,
        /// Bytes this attempt wrote to the store: its shuffle file or a
        /// result too large to travel inline (0 when another attempt had
        /// committed first). With `result`'s length, its output.
        stored_bytes: u64,
        /// The inline result.
        result: Option<Bytes>,
    },
    /// Failed; `kind` decides whether the driver tries again.
    Failed {
        /// Retryable, input or fatal.
        kind: TaskErrorKind,
        /// The error chain.
        message: String,
    },
    /// Not run: the worker found the job gone or not running.
    Skipped,
}

impl Outcome {
    /// Output bytes of a committed attempt (stored or inline), else 0.
    pub fn output_bytes(&self) -> u64 {
        match self {
            Outcome::Done {
                stored_bytes,
                result,
                ..
            } => stored_bytes + result.as_ref().map_or(0, |r| r.len() as u64),
            _ => 0,
        }
    }
}

/// An entry of a job's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The driver's first entry, which creates the stream (workers append
    /// with NOMKSTREAM, so that a finished job's stream is never recreated).
    Start,
    /// A worker's report.
    Report(Report),
}

impl Report {
    /// How long the attempt took, by the worker's clock.
    pub fn duration_us(&self) -> u64 {
        self.ended_us.saturating_sub(self.started_us)
    }

    /// Appends the fields of the event reporting this (after `XADD key id`).
    pub(crate) fn encode(&self, out: &mut impl FieldSink) {
        let report = self;
        let kind = match &report.outcome {
            Outcome::Done { .. } => DONE,
            Outcome::Failed { .. } => FAIL,
            Outcome::Skipped => SKIP,
        };
        out.field(field::KIND, kind);
        report.task.encode(out);
        out.field(field::WORKER, &report.worker);
        out.field(field::STARTED, report.started_us);
        out.field(field::ENDED, report.ended_us);
        match &report.outcome {
            Outcome::Done {
                rows,
                bytes,
                stored_bytes,
                result,
            } => {
                // Omitted when zero (most tiny tasks): readers take absent as
                // 0. An inline result's size is its length: not sent twice.
                if *rows > 0 {
                    out.field(field::ROWS, rows);
                }
                if *bytes > 0 {
                    out.field(field::BYTES, bytes);
                }
                if *stored_bytes > 0 {
                    out.field(field::STORED, stored_bytes);
                }
                if let Some(result) = result {
                    out.field(field::RESULT, result.as_ref());
                }
            }
            Outcome::Failed { kind, message } => {
                out.field(field::FAILURE, failure_name(*kind));
                out.field(field::ERROR, message);
            }
            Outcome::Skipped => {}
        }
    }
}

impl Event {
    /// Appends the event's fields (after `XADD key id`).
    pub(crate) fn encode(&self, out: &mut impl FieldSink) {
        match self {
            Event::Start => out.field(field::KIND, START),
            Event::Report(report) => report.encode(out),
        }
    }

    /// Reads every event an entry of event stream `stream` holds, in order:
    /// a worker's entry carries the reports of one of its batches for one
    /// job, each starting at its kind field (field names repeat; see
    /// ARCHITECTURE.md). Each is decoded on its own, so a report nobody can
    /// read does not hide the others of its entry.
    pub(crate) fn decode_all(stream: &str, entry: Entry) -> Vec<Result<Event, DecodeError>> {
        split_at_kinds(entry)
            .into_iter()
            .map(|one| Event::decode(stream, one))
            .collect()
    }

    /// Reads an entry of event stream `stream` that holds one event
    /// (consumed: an inline result is moved, not copied).
    pub(crate) fn decode(stream: &str, entry: Entry) -> Result<Event, DecodeError> {
        let fields = Fields {
            describe: &|| describe_entry("event", stream, &entry),
            pairs: &entry.fields,
        };
        let kind = fields.text(field::KIND)?;
        if kind == START {
            return Ok(Event::Start);
        }
        if ![DONE, FAIL, SKIP].contains(&kind) {
            let problem = FieldProblem::Invalid(kind.to_string());
            return Err(fields.error(field::KIND, problem));
        }
        let task = TaskRef::decode(&fields)?;
        let worker = fields.text(field::WORKER)?.to_string();
        let started_us = fields.num(field::STARTED)?;
        let ended_us = fields.num(field::ENDED)?;
        let outcome = match kind {
            DONE => {
                let rows = fields.num_or_zero(field::ROWS)?;
                let bytes = fields.num_or_zero(field::BYTES)?;
                let stored_bytes = fields.num_or_zero(field::STORED)?;
                let result = take_field(entry, field::RESULT).map(Bytes::from);
                Outcome::Done {
                    rows,
                    bytes,
                    stored_bytes,
                    result,
                }
            }
            FAIL => Outcome::Failed {
                kind: failure_kind(&fields)?,
                message: fields.text(field::ERROR)?.to_string(),
            },
            _ => Outcome::Skipped,
        };
        Ok(Event::Report(Report {
            task,
            worker,
            started_us,
            ended_us,
            outcome,
        }))
    }
}

fn failure_name(kind: TaskErrorKind) -> &'static str {
    match kind {
        TaskErrorKind::Retryable => "retryable",
        TaskErrorKind::Input => "input",
        TaskErrorKind::Fatal => "fatal",
    }
}

fn failure_kind(fields: &Fields<'_>) -> Result<TaskErrorKind, DecodeError> {
    match fields.text(field::FAILURE)? {
        "retryable" => Ok(TaskErrorKind::Retryable),
        "input" => Ok(TaskErrorKind::Input),
        "fatal" => Ok(TaskErrorKind::Fatal),
        other => Err(fields.error(field::FAILURE, FieldProblem::Invalid(other.into()))),
    }
}

/// `entry` cut before each kind field but the first: one entry (with the
/// same id) per event it holds. Fields before the first kind field stay
/// with the first event.
fn split_at_kinds(entry: Entry) -> Vec<Entry> {
    let Entry { id, fields } = entry;
    let mut events = Vec::new();
    let mut current = Vec::new();
    let mut has_kind = false;
    for (name, value) in fields {
        if name == field::KIND {
            if has_kind {
                events.push(Entry {
                    id: id.clone(),
                    fields: std::mem::take(&mut current),
                });
            }
            has_kind = true;
        }
        current.push((name, value));
    }
    events.push(Entry {
        id,
        fields: current,
    });
    events
}

/// The value of `name`, moved out of `entry`.
fn take_field(entry: Entry, name: &str) -> Option<Vec<u8>> {
    entry
        .fields
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
