//! What the driver learns from its job's event stream: a partition is
//! done (first report wins), or an attempt failed and is retried or fails
//! the job.

use shoal_core::retry::{Decision, RetryPolicy};
use shoal_core::{ProgressEvent, TaskError, TaskErrorKind};

use super::{Drive, Failure, StageTracker};
use crate::protocol::{DecodeError, Event, Outcome, TaskRef};
use crate::results::ResultSlot;

impl Drive<'_> {
    pub(super) fn handle_event(
        &mut self,
        stage: u32,
        event: Result<Event, DecodeError>,
        tracker: &mut StageTracker,
    ) -> Result<(), Failure> {
        // An event nobody can read is dropped: its task never counts as
        // done, so the check for vanished tasks (`vanished.rs`) runs it again.
        let Ok(Event::Report(report)) = event else {
            return Ok(());
        };
        let (s, p, a) = (
            report.task.stage,
            report.task.partition,
            report.task.attempt,
        );
        let first = matches!(report.outcome, Outcome::Done { .. })
            && s == stage
            && tracker.done.get(p as usize) == Some(&false);
        self.record.report(&report, first);
        if s != stage || p as usize >= tracker.done.len() || tracker.done[p as usize] {
            return Ok(());
        }
        let duration_ms = report.duration_us() / 1000;
        let bytes_out = report.outcome.output_bytes();
        match report.outcome {
            Outcome::Done {
                rows,
                bytes,
                result,
                ..
            } => {
                tracker.done[p as usize] = true;
                tracker.results[p as usize] = Some(match result {
                    Some(inline) => ResultSlot::Inline(inline),
                    None => ResultSlot::Stored,
                });
                tracker.remaining -= 1;
                tracker.durations_ms.push(duration_ms);
                if rows > 0 || bytes > 0 {
                    self.progress
                        .event(&ProgressEvent::Processed { stage, rows, bytes });
                }
                self.progress.event(&ProgressEvent::TaskFinished {
                    stage,
                    partition: p,
                    attempt: a,
                    bytes_out,
                });
                Ok(())
            }
            // A report re-sent after its reply was lost, or a duplicate
            // entry of one attempt failing too: one failure, counted once.
            Outcome::Failed { .. } if tracker.failures[p as usize].has_failed(a) => Ok(()),
            Outcome::Failed { kind, message } => {
                let attempt = Attempt {
                    task: report.task,
                    worker: &report.worker,
                };
                self.handle_failure(attempt, kind, message, tracker)
            }
            // A worker thought the job gone (e.g. just after a failover,
            // before we republished it): run the newest attempt again.
            Outcome::Skipped if a == tracker.attempt[p as usize] => {
                Ok(self.resubmit(stage, &[p], tracker)?)
            }
            Outcome::Skipped => Ok(()),
        }
    }

    fn handle_failure(
        &mut self,
        failed: Attempt<'_>,
        kind: TaskErrorKind,
        message: String,
        tracker: &mut StageTracker,
    ) -> Result<(), Failure> {
        let TaskRef {
            stage,
            partition: p,
            attempt,
        } = failed.task;
        let policy = RetryPolicy::new(self.config.max_attempts);
        let error = TaskError::new(message.clone()).with_kind_of(kind);
        let decision = tracker.failures[p as usize].failed(
            &policy,
            attempt,
            Some(failed.worker),
            kind,
            message,
        );
        self.progress.event(&ProgressEvent::TaskFailed {
            stage,
            partition: p,
            attempt,
            error: &error,
            will_retry: decision == Decision::Retry,
        });
        if decision == Decision::Retry {
            // Only the newest attempt's failure triggers a new one; an older
            // attempt failing while a newer one runs changes nothing.
            if attempt == tracker.attempt[p as usize] {
                self.resubmit(stage, &[p], tracker)?;
            }
            return Ok(());
        }
        let attempts = std::mem::take(&mut tracker.failures[p as usize]);
        Err(Failure::Job(attempts.into_error(
            &self.run.id,
            stage,
            self.run.plan.stages()[stage as usize].name(),
            p,
        )))
    }
}

/// Which attempt, run where.
struct Attempt<'a> {
    task: TaskRef,
    worker: &'a str,
}
