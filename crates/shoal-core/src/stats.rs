//! Run statistics: what a job cost, kept apart from what it computed.
//!
//! A job's result must be the same bytes wherever and however it runs;
//! its statistics (times, attempts, spilled bytes, memory) never are. So
//! they travel separately, as a [`JobStats`] beside the result in
//! [`JobOutput`](crate::JobOutput), and front ends show them on stderr or
//! write them to a file of their own — never mixed into the result.
//!
//! [`run_job`](crate::run_job) fills the fields every executor shares: it
//! times planning and the whole run, and counts tasks, attempts, rows and
//! spills per stage from the progress events the executor emits anyway
//! ([`StatsRecorder`]), so the embedded and the cluster executor report
//! alike. Executors add what only they know by setting further fields of
//! the `JobStats` in the `JobOutput` they return; `run_job` keeps those.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{MemoryStats, ProgressEvent, ProgressSink};

/// What running one job cost. Serialises to the JSON of `--stats FILE`
/// (durations in seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    /// The job's registered name.
    pub job: String,
    /// The run's id.
    pub job_id: String,
    /// From the start of `run_job` to the finished result.
    #[serde(rename = "wall_seconds", with = "seconds")]
    pub wall: Duration,
    /// Preparing and planning on the driver (listing inputs, splits).
    #[serde(rename = "planning_seconds", with = "seconds")]
    pub planning: Duration,
    /// Runs of the plan: 1, or 2 when [`Job::review`](crate::Job::review)
    /// asked for a corrected run (the stages of both are counted).
    pub runs: u32,
    /// Turning the last stage's results into the job's result
    /// ([`Job::finish`](crate::Job::finish)).
    #[serde(rename = "finish_seconds", with = "seconds")]
    pub finish: Duration,
    /// Tasks (partitions) that committed, over all stages.
    pub tasks: u64,
    /// Attempts that ended, committed or failed.
    pub attempts: u64,
    /// Attempts that failed (retried or not).
    pub failed_attempts: u64,
    /// Input rows the tasks reported processing.
    pub rows: u64,
    /// Input bytes the tasks reported processing.
    pub bytes: u64,
    /// Bytes written to the spill store because they did not fit the
    /// memory budget.
    pub bytes_spilled: u64,
    /// What the job held at its peak against its memory budget, and what
    /// it spilled, when the executor reports it (the embedded one does).
    pub memory: Option<MemoryStats>,
    /// Peak resident memory of this (driver) process, when the platform
    /// reports it (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Per stage, in plan order.
    pub stages: Vec<StageStats>,
}

/// What one stage cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    /// The stage's name.
    pub name: String,
    /// Tasks that committed.
    pub tasks: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Wall time from the stage's start to its last commit.
    #[serde(rename = "seconds", with = "seconds")]
    pub elapsed: Duration,
    /// Input rows reported.
    pub rows: u64,
    /// Input bytes reported.
    pub bytes: u64,
    /// Bytes spilled.
    pub bytes_spilled: u64,
}

impl JobStats {
    /// Adds the cost of an `earlier` run whose results a review set aside:
    /// its planning time and stages (listed first) count too.
    pub fn absorb_earlier_run(&mut self, earlier: JobStats) {
        let mut stages = earlier.stages;
        stages.append(&mut self.stages);
        self.set_stages(stages);
        self.planning += earlier.planning;
        self.runs += earlier.runs;
    }

    /// Sets `stages` and the totals over them (`tasks`, `attempts`, `rows`, …).
    pub fn set_stages(&mut self, stages: Vec<StageStats>) {
        self.stages = stages;
        let sum = |f: fn(&StageStats) -> u64| self.stages.iter().map(f).sum::<u64>();
        self.tasks = sum(|s| s.tasks);
        self.failed_attempts = sum(|s| s.failed_attempts);
        self.attempts = self.tasks + self.failed_attempts;
        self.rows = sum(|s| s.rows);
        self.bytes = sum(|s| s.bytes);
        self.bytes_spilled = sum(|s| s.bytes_spilled);
    }
}

#[derive(Default)]
struct StageCounters {
    tasks: AtomicU64,
    failed: AtomicU64,
    rows: AtomicU64,
    bytes: AtomicU64,
    spilled: AtomicU64,
    elapsed_nanos: AtomicU64,
}

/// A [`ProgressSink`] that counts what passes through it per stage and
/// forwards every event to the sink it wraps. Lock-free: events arrive from
/// every task thread.
pub struct StatsRecorder<'a> {
    inner: &'a dyn ProgressSink,
    names: Vec<String>,
    stages: Vec<StageCounters>,
    /// Reported once, at the end of a run.
    memory: Mutex<Option<MemoryStats>>,
}

impl<'a> StatsRecorder<'a> {
    /// A recorder for a plan whose stages are called `names`, in order,
    /// forwarding to `inner`.
    pub fn new(names: Vec<String>, inner: &'a dyn ProgressSink) -> Self {
        let stages = names.iter().map(|_| StageCounters::default()).collect();
        StatsRecorder {
            inner,
            names,
            stages,
            memory: Mutex::new(None),
        }
    }

    fn count(&self, stage: u32, f: impl FnOnce(&StageCounters)) {
        if let Some(counters) = self.stages.get(stage as usize) {
            f(counters);
        }
    }

    /// Statistics with the counted stages and their totals.
    pub fn stats(&self) -> JobStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut stats = JobStats::default();
        stats.set_stages(
            self.names
                .iter()
                .zip(&self.stages)
                .map(|(name, c)| StageStats {
                    name: name.clone(),
                    tasks: load(&c.tasks),
                    failed_attempts: load(&c.failed),
                    elapsed: Duration::from_nanos(load(&c.elapsed_nanos)),
                    rows: load(&c.rows),
                    bytes: load(&c.bytes),
                    bytes_spilled: load(&c.spilled),
                })
                .collect(),
        );
        stats.memory = *self.memory.lock().unwrap_or_else(|p| p.into_inner());
        stats
    }
}

impl ProgressSink for StatsRecorder<'_> {
    fn event(&self, event: &ProgressEvent<'_>) {
        let add = |a: &AtomicU64, n: u64| {
            a.fetch_add(n, Ordering::Relaxed);
        };
        match *event {
            ProgressEvent::Processed { stage, rows, bytes } => self.count(stage, |c| {
                add(&c.rows, rows);
                add(&c.bytes, bytes);
            }),
            ProgressEvent::Spilled { stage, bytes } => {
                self.count(stage, |c| add(&c.spilled, bytes))
            }
            ProgressEvent::TaskFinished { stage, .. } => self.count(stage, |c| add(&c.tasks, 1)),
            ProgressEvent::TaskFailed { stage, .. } => self.count(stage, |c| add(&c.failed, 1)),
            ProgressEvent::Memory(memory) => {
                *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = Some(memory);
            }
            ProgressEvent::StageFinished { stage, elapsed, .. } => self.count(stage, |c| {
                let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
                c.elapsed_nanos.store(nanos, Ordering::Relaxed);
            }),
            // Stage starts carry nothing the finish does not.
            _ => {}
        }
        self.inner.event(event);
    }
}

/// Peak resident memory of this process (`VmHWM` in `/proc/self/status`),
/// or `None` where that file does not exist.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Durations as fractional seconds in JSON.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoProgress, TaskError};

    #[test]
    fn counts_per_stage_and_totals() {
        let recorder = StatsRecorder::new(vec!["map".into(), "reduce".into()], &NoProgress);
        let error = TaskError::fatal("boom");
        for event in [
            ProgressEvent::Processed {
                stage: 0,
                rows: 10,
                bytes: 100,
            },
            ProgressEvent::TaskFailed {
                stage: 0,
                partition: 0,
                attempt: 0,
                error: &error,
                will_retry: true,
            },
            ProgressEvent::TaskFinished {
                stage: 0,
                partition: 0,
                attempt: 1,
                bytes_out: 40,
            },
            ProgressEvent::Spilled { stage: 0, bytes: 7 },
            ProgressEvent::Memory(MemoryStats {
                budget: 100,
                peak_held: 60,
                spilled_bytes: 7,
                spill_files: 1,
            }),
            ProgressEvent::StageFinished {
                stage: 0,
                name: "map",
                elapsed: Duration::from_millis(1500),
            },
            ProgressEvent::TaskFinished {
                stage: 1,
                partition: 0,
                attempt: 0,
                bytes_out: 40,
            },
            // An event for a stage the plan does not have is ignored.
            ProgressEvent::TaskFinished {
                stage: 9,
                partition: 0,
                attempt: 0,
                bytes_out: 40,
            },
        ] {
            recorder.event(&event);
        }
        let stats = recorder.stats();
        assert_eq!(
            (stats.tasks, stats.attempts, stats.failed_attempts),
            (2, 3, 1)
        );
        assert_eq!((stats.rows, stats.bytes, stats.bytes_spilled), (10, 100, 7));
        assert_eq!(stats.stages[0].elapsed, Duration::from_millis(1500));
        assert_eq!(stats.stages[1].name, "reduce");
        assert_eq!(stats.memory.map(|m| m.peak_held), Some(60));
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["stages"][0]["seconds"], 1.5);
        assert_eq!(serde_json::from_value::<JobStats>(json).unwrap(), stats);
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
