//! The driver's record of its job for the dashboard and `/metrics`.
//!
//! Every report the driver reads is folded into the job's
//! [`JobTrace`](crate::trace::JobTrace) and into counters by (stage,
//! outcome) — additions in memory, nothing sent. The upkeep that already
//! writes the job's progress twice a second appends the trace (when it
//! changed) and the counters' increments to the same pipeline, so the
//! record costs no round trip of its own, whatever the number of tasks.
//!
//! Counters accumulate in Redis under the job's *name* (`shoal:metrics:*`
//! hashes, one field per job, stage and outcome): they outlive runs and
//! stay bounded by the number of jobs and stages.

use crate::keys;
use crate::protocol::{Outcome, Report};
use crate::trace::{Attempt, AttemptOutcome, DurationHistogram, JobTrace};

/// Outcome labels, in the order of `Record::counts`' columns.
const OUTCOMES: [&str; 4] = ["done", "duplicate", "failed", "skipped"];

/// A job's record, as the driver keeps it between writes.
pub(crate) struct Record {
    job: String,
    stage_names: Vec<String>,
    pub(crate) trace: JobTrace,
    /// Whether the trace changed since it was last written.
    dirty: bool,
    /// Attempts per stage and outcome since the last write.
    counts: Vec<[u64; 4]>,
    /// Durations of committed attempts since the last write.
    durations: DurationHistogram,
}

impl Record {
    /// The record of job `job` (its name) with these stages (name, tasks),
    /// starting at `origin_ms` (Unix ms).
    pub(crate) fn new(job: &str, stages: &[(String, u64)], origin_ms: u64) -> Self {
        Record {
            job: job.to_string(),
            stage_names: stages.iter().map(|(name, _)| name.clone()).collect(),
            // Workers' reports size each task's output.
            trace: JobTrace::new(origin_ms, stages).with_output_sizes(),
            dirty: true,
            counts: vec![[0; 4]; stages.len()],
            durations: DurationHistogram::default(),
        }
    }

    /// Folds in one report; `first` says whether it is the first commit
    /// of its task (the one that counts).
    pub(crate) fn report(&mut self, report: &Report, first: bool) {
        let outcome = match &report.outcome {
            Outcome::Done { rows, bytes, .. } => AttemptOutcome::Done {
                rows: *rows,
                bytes: *bytes,
                bytes_out: report.outcome.output_bytes(),
                first,
            },
            Outcome::Failed { message, .. } => AttemptOutcome::Failed { error: message },
            Outcome::Skipped => AttemptOutcome::Skipped,
        };
        let column = match &outcome {
            AttemptOutcome::Done { first: true, .. } => 0,
            AttemptOutcome::Done { first: false, .. } => 1,
            AttemptOutcome::Failed { .. } => 2,
            AttemptOutcome::Skipped => 3,
        };
        if column == 0 {
            self.durations.observe_us(report.duration_us());
        }
        if let Some(counts) = self.counts.get_mut(report.task.stage as usize) {
            counts[column] += 1;
        }
        self.trace.record(&Attempt {
            worker: &report.worker,
            stage: report.task.stage,
            partition: report.task.partition,
            attempt: report.task.attempt,
            started_us: report.started_us,
            ended_us: report.ended_us,
            outcome,
        });
        self.dirty = true;
    }

    /// Something other than a report changed the trace.
    pub(crate) fn touch(&mut self) {
        self.dirty = true;
    }

    /// Appends the trace (when changed) and the counters' increments to
    /// `pipe`, and starts counting afresh. `ttl_ms` bounds the trace's life
    /// (`None`: until the job ends).
    pub(crate) fn flush(&mut self, pipe: &mut redis::Pipeline, job_id: &str, ttl_ms: Option<u64>) {
        if self.dirty {
            let mut set = redis::cmd("SET");
            set.arg(keys::job_trace(job_id)).arg(self.trace.to_json());
            if let Some(ttl) = ttl_ms {
                set.arg("PX").arg(ttl);
            }
            pipe.add_command(set).ignore();
            self.dirty = false;
        }
        for (stage, counts) in self.counts.iter_mut().enumerate() {
            for (column, n) in counts.iter_mut().enumerate() {
                if *n == 0 {
                    continue;
                }
                let field =
                    keys::metric_field(&[&self.job, &self.stage_names[stage], OUTCOMES[column]]);
                pipe.cmd("HINCRBY")
                    .arg(keys::METRIC_TASKS)
                    .arg(field)
                    .arg(*n)
                    .ignore();
                *n = 0;
            }
        }
        for (bucket, n) in self.durations.counts.iter().enumerate() {
            if *n > 0 {
                let field = keys::metric_field(&[&self.job, &bucket.to_string()]);
                pipe.cmd("HINCRBY")
                    .arg(keys::METRIC_DURATIONS)
                    .arg(field)
                    .arg(*n)
                    .ignore();
            }
        }
        if self.durations.sum_us > 0 {
            let field = keys::metric_field(&[&self.job, "sum_us"]);
            pipe.cmd("HINCRBY")
                .arg(keys::METRIC_DURATIONS)
                .arg(field)
                .arg(self.durations.sum_us)
                .ignore();
        }
        self.durations = DurationHistogram::default();
    }
}
