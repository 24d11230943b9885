//! What a worker has done, for its heartbeat (the dashboard) and its own
//! `/metrics`: attempts by job, stage and outcome, durations, the tasks
//! running per job, its recent attempts, and its process's CPU and memory.
//!
//! A slot touches this twice per task (start, end) under one mutex that
//! only slots and the once-a-second heartbeat take; entries are looked up
//! without allocating, so the cost per task is a few dozen nanoseconds.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::dashboard::WorkerAttempt;
use crate::protocol::{Outcome, Report, WorkerLoad};
use crate::trace::{DurationHistogram, SampleOutcome, TaskSample};

/// Recent attempts a worker keeps for its page.
const RECENT: usize = 50;

/// Counts of one job's stage.
#[derive(Debug, Clone)]
pub struct StageCounts {
    /// Job name.
    pub job: String,
    /// Stage index.
    pub stage: u32,
    /// Stage name.
    pub stage_name: String,
    /// Attempts committed, failed and skipped.
    pub done: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Attempts not run (job gone).
    pub skipped: u64,
}

/// A snapshot for a worker's `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ActivitySnapshot {
    /// Per job and stage.
    pub stages: Vec<StageCounts>,
    /// Durations of committed attempts per job name.
    pub durations: Vec<(String, DurationHistogram)>,
    /// Tasks running now.
    pub running: u64,
    /// Bytes this process read from the store.
    pub bytes_read: u64,
    /// Bytes this process wrote to the store.
    pub bytes_written: u64,
}

/// A worker's activity, shared by its slots and heartbeat.
#[derive(Default)]
pub struct Activity {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    stages: Vec<StageCounts>,
    durations: Vec<(String, DurationHistogram)>,
    running: BTreeMap<String, u64>,
    recent: VecDeque<WorkerAttempt>,
    recent_changed: bool,
    cpu: CpuClock,
}

/// CPU time of this process at the last heartbeat.
#[derive(Default)]
struct CpuClock {
    last: Option<(Instant, f64)>,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A task of job `job_id` started on a slot.
    pub(crate) fn started(&self, job_id: &str) {
        let mut inner = self.lock();
        match inner.running.get_mut(job_id) {
            Some(n) => *n += 1,
            None => {
                inner.running.insert(job_id.to_string(), 1);
            }
        }
    }

    /// A task ended with `report`; `job` and `stage_name` name it (empty
    /// when the job could not be planned here).
    pub(crate) fn ended(&self, job_id: &str, job: &str, stage_name: &str, report: &Report) {
        let mut inner = self.lock();
        if let Some(n) = inner.running.get_mut(job_id) {
            *n -= 1;
            if *n == 0 {
                inner.running.remove(job_id);
            }
        }
        let stage = report.task.stage;
        let i = match inner
            .stages
            .iter()
            .position(|s| s.stage == stage && s.job == job)
        {
            Some(i) => i,
            None => {
                inner.stages.push(StageCounts {
                    job: job.to_string(),
                    stage,
                    stage_name: stage_name.to_string(),
                    done: 0,
                    failed: 0,
                    skipped: 0,
                });
                inner.stages.len() - 1
            }
        };
        let outcome = match report.outcome {
            Outcome::Done { .. } => {
                inner.stages[i].done += 1;
                let d = match inner.durations.iter().position(|(j, _)| j == job) {
                    Some(d) => d,
                    None => {
                        inner
                            .durations
                            .push((job.to_string(), DurationHistogram::default()));
                        inner.durations.len() - 1
                    }
                };
                inner.durations[d].1.observe_us(report.duration_us());
                SampleOutcome::Done
            }
            Outcome::Failed { .. } => {
                inner.stages[i].failed += 1;
                SampleOutcome::Failed
            }
            Outcome::Skipped => {
                inner.stages[i].skipped += 1;
                SampleOutcome::Skipped
            }
        };
        // The oldest entry's buffers are reused: no allocation per task.
        let mut entry = match inner.recent.len() {
            RECENT => inner.recent.pop_back().expect("full"),
            _ => WorkerAttempt {
                job_id: String::new(),
                stage_name: String::new(),
                sample: TaskSample {
                    worker: String::new(),
                    stage: 0,
                    partition: 0,
                    attempt: 0,
                    started_ms: 0,
                    duration_us: 0,
                    outcome,
                },
            },
        };
        entry.job_id.clear();
        entry.job_id.push_str(job_id);
        entry.stage_name.clear();
        entry.stage_name.push_str(stage_name);
        entry.sample.refill(
            &report.worker,
            (stage, report.task.partition, report.task.attempt),
            report.started_us / 1000,
            report.duration_us(),
            outcome,
        );
        inner.recent.push_front(entry);
        inner.recent_changed = true;
    }

    /// The load to send with a heartbeat.
    pub(crate) fn load(&self) -> WorkerLoad {
        let mut inner = self.lock();
        let io = shoal_store::io_totals();
        let cpu_percent = process_cpu_seconds().and_then(|now_cpu| {
            let now = Instant::now();
            let previous = inner.cpu.last.replace((now, now_cpu));
            previous.map(|(at, cpu)| {
                let wall = now.duration_since(at).as_secs_f64().max(1e-3);
                ((now_cpu - cpu) / wall * 100.0).max(0.0)
            })
        });
        WorkerLoad {
            done: inner.stages.iter().map(|s| s.done).sum(),
            failed: inner.stages.iter().map(|s| s.failed).sum(),
            cpu_percent,
            rss_bytes: process_rss_bytes(),
            bytes_read: io.read,
            bytes_written: io.written,
            running_jobs: inner.running.clone(),
        }
    }

    /// The recent attempts as JSON, when they changed since last asked.
    pub(crate) fn recent_if_changed(&self) -> Option<String> {
        let mut inner = self.lock();
        if !std::mem::take(&mut inner.recent_changed) {
            return None;
        }
        serde_json::to_string(&inner.recent).ok()
    }

    /// Counts and durations for `/metrics`.
    pub fn snapshot(&self) -> ActivitySnapshot {
        let inner = self.lock();
        let io = shoal_store::io_totals();
        ActivitySnapshot {
            stages: inner.stages.clone(),
            durations: inner.durations.clone(),
            running: inner.running.values().sum(),
            bytes_read: io.read,
            bytes_written: io.written,
        }
    }
}

/// User + system CPU time of this process (Linux; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on every Linux Shoal builds for.
    Some((utime + stime) / 100.0)
}

/// Resident memory of this process (Linux; `None` elsewhere).
fn process_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TaskRef;

    fn report(stage: u32, outcome: Outcome) -> Report {
        Report {
            task: TaskRef {
                stage,
                partition: 3,
                attempt: 0,
            },
            worker: "w1".into(),
            started_us: 1_000,
            ended_us: 3_000,
            outcome,
        }
    }

    #[test]
    fn attempts_are_counted_per_job_and_stage_and_kept_recent() {
        let activity = Activity::default();
        activity.started("noop-1");
        activity.started("noop-1");
        assert_eq!(activity.load().running_jobs["noop-1"], 2);
        let done = Outcome::Done {
            rows: 0,
            bytes: 0,
            stored_bytes: 0,
            result: None,
        };
        activity.ended("noop-1", "noop", "run", &report(0, done));
        let failed = Outcome::Failed {
            kind: shoal_core::TaskErrorKind::Retryable,
            message: "boom".into(),
        };
        activity.ended("noop-1", "noop", "run", &report(0, failed));
        let load = activity.load();
        assert_eq!((load.done, load.failed), (1, 1));
        assert!(load.running_jobs.is_empty());
        let snapshot = activity.snapshot();
        assert_eq!(snapshot.stages.len(), 1);
        assert_eq!(snapshot.durations[0].1.count(), 1);
        let recent = activity.recent_if_changed().unwrap();
        assert!(recent.contains("\"outcome\":\"failed\""), "{recent}");
        assert!(activity.recent_if_changed().is_none());
    }
}
