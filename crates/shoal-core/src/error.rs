//! Errors of tasks and jobs.

use std::error::Error as StdError;
use std::fmt;

/// Why a task attempt failed, which decides whether it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskErrorKind {
    /// A fault that another attempt may not hit (I/O hiccup, lost worker,
    /// panic). Retried up to the job's attempt limit.
    Retryable,
    /// The user's input is wrong (a bad row under `--strict`, a missing
    /// column). Retrying cannot help; the CLI exits with code 2.
    Input,
    /// A fault that will repeat (a bug, corrupt data Shoal wrote). Not retried.
    Fatal,
}

/// A failed task attempt: a message naming what failed with which input,
/// and the underlying cause.
#[derive(Debug)]
pub struct TaskError {
    kind: TaskErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TaskError {
    /// A retryable failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind(TaskErrorKind::Retryable, message)
    }

    /// A user-input failure: not retried, reported as one line, exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self::with_kind(TaskErrorKind::Input, message)
    }

    /// A failure that would repeat on every attempt.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::with_kind(TaskErrorKind::Fatal, message)
    }

    fn with_kind(kind: TaskErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A retryable failure caused by `source`, with `context` saying what
    /// was being done (e.g. "reading events.csv").
    pub fn caused_by(
        context: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        TaskError {
            kind: TaskErrorKind::Retryable,
            message: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Changes the kind, keeping message and cause.
    pub fn with_kind_of(mut self, kind: TaskErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The kind, which decides retrying and the exit code.
    pub fn kind(&self) -> TaskErrorKind {
        self.kind
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == TaskErrorKind::Retryable
    }

    /// The message with every cause appended: `a: b: c`.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut cause = self.source.as_deref().map(|s| s as &dyn StdError);
        while let Some(err) = cause {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cause = err.source();
        }
        text
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for TaskError {
    fn from(err: std::io::Error) -> Self {
        TaskError::caused_by("I/O error", err)
    }
}

impl From<shoal_store::StoreError> for TaskError {
    fn from(err: shoal_store::StoreError) -> Self {
        let kind = if err.is_retryable() {
            TaskErrorKind::Retryable
        } else {
            TaskErrorKind::Fatal
        };
        TaskError::caused_by("storage", err).with_kind_of(kind)
    }
}

/// A job could not be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// No job is registered under that name.
    #[error("unknown job '{name}' (registered: {known})")]
    UnknownJob {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// The job's parameters or inputs are wrong (user mistake, exit code 2).
    #[error("{message}")]
    InvalidInput {
        /// The job.
        job: String,
        /// One line naming the parameter, file, line or key at fault.
        message: String,
    },
    /// Preparing or planning the job failed for a reason other than bad input.
    #[error("{job}: {message}")]
    Setup {
        /// The job.
        job: String,
        /// What failed.
        message: String,
    },
    /// Turning the last stage's results into the job's result
    /// ([`Job::finish`](crate::Job::finish), on the driver) failed.
    #[error("{job}: finishing the result: {message}")]
    Finish {
        /// The job.
        job: String,
        /// What failed.
        message: String,
    },
    /// A task failed on every attempt, or failed in a way retrying cannot fix.
    #[error("job {job_id} failed: stage {stage} ({stage_name}), partition {partition}: {}", last_attempt(.attempts))]
    TaskFailed {
        /// The job run.
        job_id: String,
        /// Stage index.
        stage: u32,
        /// Stage name.
        stage_name: String,
        /// Partition (task) index.
        partition: u32,
        /// Every attempt's error chain, oldest first.
        attempts: Vec<String>,
        /// The kind of the last attempt's error.
        kind: TaskErrorKind,
    },
    /// The job was cancelled before it finished.
    #[error("job {job_id} was cancelled")]
    Cancelled {
        /// The job run.
        job_id: String,
    },
    /// Storage failed outside any task (e.g. spilling, cleanup).
    #[error("storage: {0}")]
    Store(#[from] shoal_store::StoreError),
    /// The executor itself failed (lost control plane, bad configuration).
    #[error("executor: {message}")]
    Executor {
        /// What failed.
        message: String,
    },
}

fn last_attempt(attempts: &[String]) -> String {
    match attempts {
        [] => "no attempt ran".to_string(),
        [only] => only.clone(),
        [.., last] => format!("{last} (after {} attempts)", attempts.len()),
    }
}

impl JobError {
    /// Bad user input for `job`, described in one line.
    pub fn invalid_input(job: &str, message: impl fmt::Display) -> Self {
        JobError::InvalidInput {
            job: job.to_string(),
            message: message.to_string(),
        }
    }

    /// Whether the user must fix their input (exit code 2) rather than the
    /// job having failed.
    pub fn is_user_input(&self) -> bool {
        match self {
            JobError::InvalidInput { .. } | JobError::UnknownJob { .. } => true,
            JobError::TaskFailed { kind, .. } => *kind == TaskErrorKind::Input,
            _ => false,
        }
    }

    /// The one line to show a user for an input error: the task's own
    /// message (which names file and line), without the stage machinery.
    pub fn user_message(&self) -> String {
        match self {
            JobError::TaskFailed { attempts, .. } if self.is_user_input() => {
                attempts.last().cloned().unwrap_or_default()
            }
            other => other.to_string(),
        }
    }
}
