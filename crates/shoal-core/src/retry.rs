//! The retry policy, written once for every executor: which failed
//! attempts are retried, how many a task gets, and what a task that fails
//! for good reports.
//!
//! The embedded executor and the cluster driver keep one [`TaskAttempts`]
//! per partition and ask it after each failed attempt; neither decides on
//! its own. The rules:
//! - a [`TaskErrorKind::Retryable`] failure is retried until the task has
//!   failed `max_attempts` times; [`TaskErrorKind::Input`] and
//!   [`TaskErrorKind::Fatal`] failures are never retried (another attempt
//!   would read the same input, run the same code);
//! - **a panic is retried**: [`crate::run_attempt`] turns it into a
//!   retryable error carrying the panic message. A panic in a task is most
//!   often a bug and then fails every attempt, which costs at most
//!   `max_attempts` runs of one task and ends with each attempt's message;
//!   but it may as well come from a transient fault that the task's code
//!   unwraps (an I/O hiccup, a full disk that a retry on another worker
//!   does not meet), and treating it as fatal would fail jobs a retry
//!   saves;
//! - failures count, not attempts: on a cluster a speculative or
//!   resubmitted attempt that is still running has not failed, so it does
//!   not use up the budget; and an attempt fails once — a repeated report
//!   of it (re-sent after its reply was lost) is not another failure
//!   ([`TaskAttempts::has_failed`]);
//! - an input error is reported as the task's own message (it names the
//!   file and line at fault); other failures list every attempt's message.

use crate::{JobError, TaskErrorKind};

/// How many times a task may fail before its job fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
}

impl RetryPolicy {
    /// A task gets `max_attempts` attempts (at least 1).
    pub fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
        }
    }

    /// Attempts a task gets.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run another attempt.
    Retry,
    /// The task failed for good: its job fails ([`TaskAttempts::into_error`]).
    GiveUp,
}

/// The failed attempts of one task, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskAttempts {
    /// Each failure as reported: `attempt N[ on WORKER]: MESSAGE`.
    failures: Vec<String>,
    /// The newest failure's own message (what an input error shows).
    last_message: String,
    kind: Option<TaskErrorKind>,
    /// The attempt numbers recorded, in `failures`' order.
    failed_attempts: Vec<u32>,
}

impl TaskAttempts {
    /// Whether a failure of attempt `attempt` is recorded already: an
    /// executor that may receive one report twice (a cluster's reporter
    /// re-sends a batch whose reply it lost) skips the repeat.
    pub fn has_failed(&self, attempt: u32) -> bool {
        self.failed_attempts.contains(&attempt)
    }

    /// Records that attempt `attempt` (0-based), run on `worker` if it ran
    /// elsewhere, failed with `kind` and `message`, and decides whether
    /// the task is retried under `policy`.
    pub fn failed(
        &mut self,
        policy: &RetryPolicy,
        attempt: u32,
        worker: Option<&str>,
        kind: TaskErrorKind,
        message: String,
    ) -> Decision {
        let place = worker.map_or(String::new(), |w| format!(" on {w}"));
        self.failures
            .push(format!("attempt {}{place}: {message}", attempt + 1));
        self.failed_attempts.push(attempt);
        self.last_message = message;
        self.kind = Some(kind);
        let budget_left = (self.failures.len() as u32) < policy.max_attempts;
        match kind {
            TaskErrorKind::Retryable if budget_left => Decision::Retry,
            _ => Decision::GiveUp,
        }
    }

    /// Failures recorded so far.
    pub fn failures(&self) -> usize {
        self.failures.len()
    }

    /// The job's error for a task that failed for good.
    pub fn into_error(
        self,
        job_id: &str,
        stage: u32,
        stage_name: &str,
        partition: u32,
    ) -> JobError {
        let kind = self.kind.unwrap_or(TaskErrorKind::Fatal);
        let attempts = match kind {
            TaskErrorKind::Input => vec![self.last_message],
            _ => self.failures,
        };
        JobError::TaskFailed {
            job_id: job_id.to_string(),
            stage,
            stage_name: stage_name.to_string(),
            partition,
            attempts,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskErrorKind::{Fatal, Input, Retryable};

    fn fail(attempts: &mut TaskAttempts, max: u32, kind: TaskErrorKind) -> Decision {
        let attempt = attempts.failures() as u32;
        attempts.failed(
            &RetryPolicy::new(max),
            attempt,
            None,
            kind,
            format!("boom {attempt}"),
        )
    }

    #[test]
    fn an_attempt_is_known_as_failed_once_recorded() {
        let mut attempts = TaskAttempts::default();
        assert!(!attempts.has_failed(0));
        assert_eq!(fail(&mut attempts, 3, Retryable), Decision::Retry);
        assert!(attempts.has_failed(0));
        assert!(!attempts.has_failed(1));
    }

    #[test]
    fn retryable_failures_are_retried_until_the_budget_is_spent() {
        let mut attempts = TaskAttempts::default();
        assert_eq!(fail(&mut attempts, 3, Retryable), Decision::Retry);
        assert_eq!(fail(&mut attempts, 3, Retryable), Decision::Retry);
        assert_eq!(fail(&mut attempts, 3, Retryable), Decision::GiveUp);
        match attempts.into_error("j", 1, "count", 7) {
            JobError::TaskFailed { attempts, kind, .. } => {
                assert_eq!(kind, Retryable);
                assert_eq!(
                    attempts,
                    [
                        "attempt 1: boom 0",
                        "attempt 2: boom 1",
                        "attempt 3: boom 2"
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn input_and_fatal_failures_are_never_retried() {
        for kind in [Input, Fatal] {
            let mut attempts = TaskAttempts::default();
            assert_eq!(fail(&mut attempts, 5, kind), Decision::GiveUp, "{kind:?}");
        }
    }

    #[test]
    fn one_attempt_means_no_retry_and_zero_means_one() {
        assert_eq!(
            fail(&mut TaskAttempts::default(), 1, Retryable),
            Decision::GiveUp
        );
        assert_eq!(RetryPolicy::new(0).max_attempts(), 1);
    }

    #[test]
    fn an_input_error_reports_the_tasks_own_message_and_others_name_the_worker() {
        let policy = RetryPolicy::new(3);
        let mut attempts = TaskAttempts::default();
        attempts.failed(&policy, 0, Some("w1"), Retryable, "lost".into());
        attempts.failed(&policy, 1, Some("w2"), Input, "a.csv:3: bad row".into());
        let err = attempts.clone().into_error("j", 0, "read", 2);
        assert!(err.is_user_input());
        assert_eq!(err.user_message(), "a.csv:3: bad row");
        let mut attempts = TaskAttempts::default();
        attempts.failed(&policy, 0, Some("w1"), Fatal, "bug".into());
        match attempts.into_error("j", 0, "read", 2) {
            JobError::TaskFailed { attempts, .. } => assert_eq!(attempts, ["attempt 1 on w1: bug"]),
            other => panic!("{other:?}"),
        }
    }
}
