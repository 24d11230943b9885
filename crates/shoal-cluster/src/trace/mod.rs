//! A job's trace: what the dashboard shows of a job, folded from the
//! reports of its attempts into a record whose size is bounded whatever
//! the number of tasks.
//!
//! The driver already reads every report; it folds each into the job's
//! [`JobTrace`] in memory (a few additions, no I/O) and writes the trace
//! with its periodic upkeep, in the pipeline it sends anyway — so keeping
//! the record costs no round trip per task. An embedded run folds its
//! progress events into the same type, so one page renders both.
//!
//! ```
//! use shoal_cluster::trace::{Attempt, AttemptOutcome, JobTrace};
//!
//! let mut trace = JobTrace::new(1_700_000_000_000, &[("read".into(), 2)]);
//! trace.stage_started(0, 1_700_000_000_000);
//! trace.record(&Attempt {
//!     worker: "w1", stage: 0, partition: 0, attempt: 0,
//!     started_us: 1_700_000_000_000_000, ended_us: 1_700_000_000_020_000,
//!     outcome: AttemptOutcome::Done { rows: 10, bytes: 100, bytes_out: 40, first: true },
//! });
//! assert_eq!(trace.stages[0].done, 1);
//! assert_eq!(trace.timeline.lanes["w1"].ended, vec![1]);
//! ```

mod histogram;
mod timeline;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

pub use histogram::{DurationHistogram, BOUNDS_SECONDS};
pub use timeline::{Lane, Timeline, MAX_BUCKETS};

/// Most recent attempts kept per job.
pub const RECENT: usize = 100;
/// Most failures kept per job (later ones are counted, not kept).
pub const MAX_FAILURES: usize = 200;
/// Longest error text kept per failure (longer ones are cut).
const MAX_ERROR_CHARS: usize = 4000;

/// Everything the dashboard draws for one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTrace {
    /// Per stage of the plan, in order.
    pub stages: Vec<StageTrace>,
    /// Time buckets per worker and throughput.
    pub timeline: Timeline,
    /// The last [`RECENT`] attempts, oldest first.
    pub recent: VecDeque<TaskSample>,
    /// The first [`MAX_FAILURES`] failed attempts, in order.
    pub failures: Vec<FailureRecord>,
    /// Failed attempts beyond those kept.
    pub failures_dropped: u64,
    /// Whether attempts report their output bytes (a cluster's workers
    /// do; an embedded run's progress events do not, nor did older
    /// drivers): without, a stage's output is unknown, not zero.
    #[serde(default)]
    pub output_sizes: bool,
}

/// One stage's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTrace {
    /// The stage's name.
    pub name: String,
    /// Tasks (partitions).
    pub tasks: u64,
    /// Tasks committed.
    pub done: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Attempts submitted again after a failure, a lost worker or a skip.
    pub retried: u64,
    /// Extra attempts of stragglers.
    pub speculative: u64,
    /// Attempts that ran after their task had committed (their output was
    /// dropped: first commit wins).
    pub duplicates: u64,
    /// Input rows of committed tasks.
    pub rows: u64,
    /// Input bytes of committed tasks.
    pub bytes_in: u64,
    /// Output bytes of committed tasks (shuffle files and results).
    pub bytes_out: u64,
    /// When it started (Unix ms), 0 before.
    pub started_ms: u64,
    /// When its last task committed (Unix ms), 0 before.
    pub finished_ms: u64,
    /// Durations of committed attempts.
    pub durations: DurationHistogram,
}

/// One attempt, as the recent-task list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSample {
    /// Worker (or thread) that ran it.
    pub worker: String,
    /// Stage index.
    pub stage: u32,
    /// Partition.
    pub partition: u32,
    /// Attempt number (0 = first).
    pub attempt: u32,
    /// Start (Unix ms, the worker's clock).
    pub started_ms: u64,
    /// How long it ran (µs).
    pub duration_us: u64,
    /// How it ended.
    pub outcome: SampleOutcome,
}

/// How a sampled attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleOutcome {
    /// It committed its task (the commit that counts).
    Done,
    /// It ended after its task had committed (output dropped).
    Duplicate,
    /// It failed.
    Failed,
    /// It was not run (the job looked gone).
    Skipped,
}

impl SampleOutcome {
    /// `done`, `duplicate`, `failed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleOutcome::Done => "done",
            SampleOutcome::Duplicate => "duplicate",
            SampleOutcome::Failed => "failed",
            SampleOutcome::Skipped => "skipped",
        }
    }
}

impl TaskSample {
    /// Overwrites this sample with another attempt, reusing its worker
    /// name's buffer: recording keeps a ring of samples, and at a hundred
    /// thousand tasks a second an allocation per task is worth avoiding.
    pub fn refill(
        &mut self,
        worker: &str,
        (stage, partition, attempt): (u32, u32, u32),
        started_ms: u64,
        duration_us: u64,
        outcome: SampleOutcome,
    ) {
        self.worker.clear();
        self.worker.push_str(worker);
        self.stage = stage;
        self.partition = partition;
        self.attempt = attempt;
        self.started_ms = started_ms;
        self.duration_us = duration_us;
        self.outcome = outcome;
    }
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// Stage index.
    pub stage: u32,
    /// Partition.
    pub partition: u32,
    /// Attempt number (0 = first).
    pub attempt: u32,
    /// Worker that ran it.
    pub worker: String,
    /// When it failed (Unix ms).
    pub at_ms: u64,
    /// The error chain.
    pub error: String,
}

/// One attempt's report, as the trace takes it.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// Worker (or thread) that ran it.
    pub worker: &'a str,
    /// Stage index.
    pub stage: u32,
    /// Partition.
    pub partition: u32,
    /// Attempt number.
    pub attempt: u32,
    /// Start (Unix µs).
    pub started_us: u64,
    /// End (Unix µs).
    pub ended_us: u64,
    /// How it ended.
    pub outcome: AttemptOutcome<'a>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome<'a> {
    /// It committed (or found its task already committed).
    Done {
        /// Input rows.
        rows: u64,
        /// Input bytes.
        bytes: u64,
        /// Output bytes.
        bytes_out: u64,
        /// Whether this is the task's first commit (the one that counts).
        first: bool,
    },
    /// It failed with this error chain.
    Failed {
        /// The error chain.
        error: &'a str,
    },
    /// It was not run (the job looked gone).
    Skipped,
}

impl JobTrace {
    /// The trace of a job starting at `origin_ms` (Unix ms) with these
    /// stages (name, tasks).
    pub fn new(origin_ms: u64, stages: &[(String, u64)]) -> Self {
        JobTrace {
            stages: stages
                .iter()
                .map(|(name, tasks)| StageTrace {
                    name: name.clone(),
                    tasks: *tasks,
                    ..StageTrace::default()
                })
                .collect(),
            timeline: Timeline::new(origin_ms),
            recent: VecDeque::new(),
            failures: Vec::new(),
            failures_dropped: 0,
            output_sizes: false,
        }
    }

    /// The same, saying that attempts report their output bytes.
    pub fn with_output_sizes(mut self) -> Self {
        self.output_sizes = true;
        self
    }

    fn stage_mut(&mut self, stage: u32) -> Option<&mut StageTrace> {
        self.stages.get_mut(stage as usize)
    }

    /// Stage `stage` started at `at_ms` (Unix ms).
    pub fn stage_started(&mut self, stage: u32, at_ms: u64) {
        if let Some(s) = self.stage_mut(stage) {
            s.started_ms = at_ms;
        }
    }

    /// Stage `stage`'s last task committed at `at_ms` (Unix ms).
    pub fn stage_finished(&mut self, stage: u32, at_ms: u64) {
        if let Some(s) = self.stage_mut(stage) {
            s.finished_ms = at_ms;
        }
    }

    /// `count` attempts of `stage` were submitted again; `speculative`
    /// says whether as a second copy of a straggler.
    pub fn resubmitted(&mut self, stage: u32, count: u64, speculative: bool) {
        if let Some(s) = self.stage_mut(stage) {
            if speculative {
                s.speculative += count;
            } else {
                s.retried += count;
            }
        }
    }

    /// Folds one attempt's report in.
    pub fn record(&mut self, attempt: &Attempt<'_>) {
        let duration_us = attempt.ended_us.saturating_sub(attempt.started_us);
        let failed = matches!(attempt.outcome, AttemptOutcome::Failed { .. });
        self.timeline.add_attempt(
            attempt.worker,
            attempt.stage,
            attempt.started_us,
            attempt.ended_us,
            failed,
        );
        let outcome = match attempt.outcome {
            AttemptOutcome::Done {
                rows,
                bytes,
                bytes_out,
                first,
            } => {
                if first {
                    self.timeline.add_done(attempt.ended_us, bytes);
                    if let Some(s) = self.stage_mut(attempt.stage) {
                        s.done += 1;
                        s.rows += rows;
                        s.bytes_in += bytes;
                        s.bytes_out += bytes_out;
                        s.durations.observe_us(duration_us);
                    }
                    SampleOutcome::Done
                } else {
                    if let Some(s) = self.stage_mut(attempt.stage) {
                        s.duplicates += 1;
                    }
                    SampleOutcome::Duplicate
                }
            }
            AttemptOutcome::Failed { error } => {
                if let Some(s) = self.stage_mut(attempt.stage) {
                    s.failed += 1;
                }
                self.keep_failure(attempt, error);
                SampleOutcome::Failed
            }
            AttemptOutcome::Skipped => SampleOutcome::Skipped,
        };
        let mut sample = match self.recent.len() {
            RECENT => self.recent.pop_front().expect("full"),
            _ => TaskSample {
                worker: String::new(),
                stage: 0,
                partition: 0,
                attempt: 0,
                started_ms: 0,
                duration_us: 0,
                outcome,
            },
        };
        sample.refill(
            attempt.worker,
            (attempt.stage, attempt.partition, attempt.attempt),
            attempt.started_us / 1000,
            duration_us,
            outcome,
        );
        self.recent.push_back(sample);
    }

    fn keep_failure(&mut self, attempt: &Attempt<'_>, error: &str) {
        if self.failures.len() >= MAX_FAILURES {
            self.failures_dropped += 1;
            return;
        }
        let error = match error.char_indices().nth(MAX_ERROR_CHARS) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_string(),
        };
        self.failures.push(FailureRecord {
            stage: attempt.stage,
            partition: attempt.partition,
            attempt: attempt.attempt,
            worker: attempt.worker.to_string(),
            at_ms: attempt.ended_us / 1000,
            error,
        });
    }

    /// The trace as stored (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a trace always serialises")
    }

    /// Reads a stored trace.
    pub fn from_json(text: &[u8]) -> Result<JobTrace, serde_json::Error> {
        serde_json::from_slice(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn attempt(partition: u32, attempt: u32, outcome: AttemptOutcome<'_>) -> Attempt<'_> {
        Attempt {
            worker: "w1",
            stage: 0,
            partition,
            attempt,
            started_us: T0 * 1000,
            ended_us: T0 * 1000 + 5_000,
            outcome,
        }
    }

    #[test]
    fn only_first_commits_count_as_done() {
        let mut trace = JobTrace::new(T0, &[("map".into(), 2)]);
        let done = |first| AttemptOutcome::Done {
            rows: 3,
            bytes: 30,
            bytes_out: 7,
            first,
        };
        trace.record(&attempt(0, 0, done(true)));
        trace.record(&attempt(0, 1, done(false)));
        let s = &trace.stages[0];
        assert_eq!((s.done, s.duplicates, s.rows, s.bytes_in), (1, 1, 3, 30));
        assert_eq!(s.bytes_out, 7, "only the first commit's output counts");
        assert_eq!(s.durations.count(), 1);
        assert_eq!(trace.timeline.done.iter().sum::<u64>(), 1);
        assert_eq!(trace.recent.len(), 2);
        assert_eq!(trace.recent[1].outcome, SampleOutcome::Duplicate);
    }

    #[test]
    fn failures_are_kept_up_to_a_limit_then_counted() {
        let mut trace = JobTrace::new(T0, &[("map".into(), 1)]);
        let long = "x".repeat(MAX_ERROR_CHARS + 10);
        for i in 0..(MAX_FAILURES as u32 + 5) {
            trace.record(&attempt(0, i, AttemptOutcome::Failed { error: &long }));
        }
        assert_eq!(trace.failures.len(), MAX_FAILURES);
        assert_eq!(trace.failures_dropped, 5);
        assert_eq!(trace.stages[0].failed, MAX_FAILURES as u64 + 5);
        assert_eq!(trace.failures[0].error.chars().count(), MAX_ERROR_CHARS + 1);
        assert_eq!(trace.recent.len(), RECENT);
    }

    #[test]
    fn a_trace_of_many_tasks_stays_small_and_reads_back() {
        let mut trace = JobTrace::new(T0, &[("noop".into(), 200_000)]);
        for p in 0..200_000u32 {
            let start = T0 * 1000 + p as u64 * 100;
            let worker = if p % 2 == 0 { "w1" } else { "w2" };
            trace.record(&Attempt {
                worker,
                stage: 0,
                partition: p,
                attempt: 0,
                started_us: start,
                ended_us: start + 150,
                outcome: AttemptOutcome::Done {
                    rows: 0,
                    bytes: 0,
                    bytes_out: 0,
                    first: true,
                },
            });
        }
        let json = trace.to_json();
        assert!(json.len() < 64 * 1024, "{} bytes", json.len());
        let back = JobTrace::from_json(json.as_bytes()).unwrap();
        assert_eq!(back, trace);
        assert_eq!(back.stages[0].done, 200_000);
    }
}
