//! What the driver learns from its job's event stream: a partition is
//! done (first report wins), or an attempt failed and is retried or fails
//! the job.

use shoal_core::{Bytes, JobError, ProgressEvent, TaskError, TaskErrorKind};

use super::{Drive, Failure, StageTracker};
use crate::reply::Entry;
use crate::results::ResultSlot;

impl Drive<'_> {
    pub(super) fn handle_event(
        &mut self,
        stage: u32,
        event: &Entry,
        tracker: &mut StageTracker,
    ) -> Result<(), Failure> {
        let (Some(s), Some(p), Some(a)) = (
            event.num::<u32>("s"),
            event.num::<u32>("p"),
            event.num::<u32>("a"),
        ) else {
            return Ok(());
        };
        if s != stage || p as usize >= tracker.done.len() || tracker.done[p as usize] {
            return Ok(());
        }
        match event.get("k") {
            Some("done") => {
                tracker.done[p as usize] = true;
                tracker.results[p as usize] = Some(match event.bytes("r") {
                    Some(inline) => ResultSlot::Inline(Bytes::copy_from_slice(inline)),
                    None => ResultSlot::Stored,
                });
                tracker.remaining -= 1;
                tracker.durations_ms.push(event.num("ms").unwrap_or(0));
                let (rows, bytes) = (
                    event.num("rows").unwrap_or(0),
                    event.num("bytes").unwrap_or(0),
                );
                if rows > 0 || bytes > 0 {
                    self.progress
                        .event(&ProgressEvent::Processed { stage, rows, bytes });
                }
                self.progress.event(&ProgressEvent::TaskFinished {
                    stage,
                    partition: p,
                    attempt: a,
                });
                Ok(())
            }
            Some("fail") => self.handle_failure(stage, p, a, event, tracker),
            // A worker thought the job gone (e.g. just after a failover,
            // before we republished it): run the newest attempt again.
            Some("skip") if a == tracker.attempt[p as usize] => {
                Ok(self.resubmit(stage, &[p], tracker)?)
            }
            _ => Ok(()),
        }
    }

    fn handle_failure(
        &mut self,
        stage: u32,
        p: u32,
        attempt: u32,
        event: &Entry,
        tracker: &mut StageTracker,
    ) -> Result<(), Failure> {
        let message = event.get("e").unwrap_or("unknown error").to_string();
        let kind = match event.get("kind") {
            Some("input") => TaskErrorKind::Input,
            Some("fatal") => TaskErrorKind::Fatal,
            _ => TaskErrorKind::Retryable,
        };
        let worker = event.get("w").unwrap_or("?");
        tracker.failures[p as usize]
            .push(format!("attempt {} on {worker}: {message}", attempt + 1));
        let error = TaskError::new(message.clone()).with_kind_of(kind);
        let failures = tracker.failures[p as usize].len() as u32;
        let will_retry = kind == TaskErrorKind::Retryable && failures < self.config.max_attempts;
        self.progress.event(&ProgressEvent::TaskFailed {
            stage,
            partition: p,
            attempt,
            error: &error,
            will_retry,
        });
        if will_retry {
            // Only the newest attempt's failure triggers a new one; an older
            // attempt failing while a newer one runs changes nothing.
            if attempt == tracker.attempt[p as usize] {
                self.resubmit(stage, &[p], tracker)?;
            }
            return Ok(());
        }
        let mut attempts = tracker.failures[p as usize].clone();
        if kind == TaskErrorKind::Input {
            attempts = vec![message];
        }
        Err(Failure::Job(JobError::TaskFailed {
            job_id: self.run.id.clone(),
            stage,
            stage_name: self.run.plan.stages()[stage as usize].name().to_string(),
            partition: p,
            attempts,
            kind,
        }))
    }
}
