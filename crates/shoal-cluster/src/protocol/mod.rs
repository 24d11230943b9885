//! The wire protocol between drivers and workers: every message cluster
//! mode writes to Redis, as typed values with exactly one encoder and one
//! decoder each.
//!
//! | message        | where it lives                     | written by | read by          |
//! |----------------|------------------------------------|------------|------------------|
//! | [`TaskEntry`]  | entry of a task stream             | driver     | workers, sweeps  |
//! | [`Event`]      | entry of `shoal:job:ID:events`     | workers    | the job's driver |
//! | [`WorkerInfo`] | hash `shoal:worker:NAME`           | worker     | drivers, status  |
//!
//! On the wire a message is a flat list of field/value pairs (a stream
//! entry or a hash), with short field names because a task entry and its
//! report are written once per task, and tiny tasks come by the hundred
//! thousand. The names are spelled only in this module.
//!
//! Decoders ignore fields they do not know, and encoders only add fields,
//! so a message can grow (per-task records for a dashboard, say) without
//! breaking a reader that does not need the new fields. A missing or
//! malformed field a reader needs is a [`DecodeError`] naming the entry,
//! the field and the value.

mod report;
mod task;
#[cfg(test)]
mod tests;
mod worker;

pub use report::{Event, Outcome, Report};
pub use task::{TaskEntry, TaskRef};
pub use worker::{WorkerInfo, WorkerLoad};

use redis::ToRedisArgs;

use crate::reply::Entry;

/// Field names on the wire, in one place.
mod field {
    pub const JOB: &str = "j";
    pub const STAGE: &str = "s";
    pub const PARTITION: &str = "p";
    pub const ATTEMPT: &str = "a";
    pub const KIND: &str = "k";
    pub const WORKER: &str = "w";
    pub const STARTED: &str = "t0";
    pub const ENDED: &str = "t1";
    pub const ROWS: &str = "rows";
    pub const BYTES: &str = "bytes";
    pub const STORED: &str = "out";
    pub const RESULT: &str = "r";
    pub const FAILURE: &str = "kind";
    pub const ERROR: &str = "e";
}

/// A message could not be decoded: which entry, which field, what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad {entry}: field '{field}' {problem}")]
pub struct DecodeError {
    /// The entry, e.g. `task entry 1700000000000-0 of shoal:tasks:noop@1`.
    pub entry: String,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: FieldProblem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// The field is absent.
    #[error("is missing")]
    Missing,
    /// The field holds something this reader does not understand.
    #[error("has unexpected value '{0}'")]
    Invalid(String),
}

/// Where encoders append field/value pairs: a command being built, or the
/// last command of a pipeline (so a batch of XADDs needs no `Cmd` each).
pub(crate) trait FieldSink {
    /// Appends one field and its value.
    fn field<T: ToRedisArgs>(&mut self, name: &str, value: T);
}

impl FieldSink for redis::Cmd {
    fn field<T: ToRedisArgs>(&mut self, name: &str, value: T) {
        self.arg(name).arg(value);
    }
}

impl FieldSink for redis::Pipeline {
    fn field<T: ToRedisArgs>(&mut self, name: &str, value: T) {
        self.arg(name).arg(value);
    }
}

/// Collects pairs as a stream reply would hold them (tests, and readers
/// that want an encoded message's fields without Redis).
impl FieldSink for Vec<(String, Vec<u8>)> {
    fn field<T: ToRedisArgs>(&mut self, name: &str, value: T) {
        self.push((name.to_string(), value.to_redis_args().concat()));
    }
}

/// The fields of one message being decoded, with what it is called in errors.
struct Fields<'a> {
    describe: &'a dyn Fn() -> String,
    pairs: &'a [(String, Vec<u8>)],
}

impl<'a> Fields<'a> {
    fn bytes(&self, name: &'static str) -> Option<&'a [u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    fn error(&self, field: &'static str, problem: FieldProblem) -> DecodeError {
        DecodeError {
            entry: (self.describe)(),
            field,
            problem,
        }
    }

    /// A text field that must be present.
    fn text(&self, name: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self
            .bytes(name)
            .ok_or_else(|| self.error(name, FieldProblem::Missing))?;
        std::str::from_utf8(bytes).map_err(|_| {
            let shown = String::from_utf8_lossy(bytes).into_owned();
            self.error(name, FieldProblem::Invalid(shown))
        })
    }

    /// A number that must be present.
    fn num<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, DecodeError> {
        let text = self.text(name)?;
        text.parse()
            .map_err(|_| self.error(name, FieldProblem::Invalid(text.to_string())))
    }

    /// A number that may be absent (then 0).
    fn num_or_zero<T: std::str::FromStr + Default>(
        &self,
        name: &'static str,
    ) -> Result<T, DecodeError> {
        match self.bytes(name) {
            None => Ok(T::default()),
            Some(_) => self.num(name),
        }
    }
}

/// How an entry of `stream` is called in errors.
fn describe_entry(message: &str, stream: &str, entry: &Entry) -> String {
    format!("{message} {} of {stream}", entry.id)
}
