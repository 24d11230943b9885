//! The dashboard of a job running in this process (`--ui` on a job
//! command), fed by the same progress events the progress bars use.
//!
//! The embedded executor runs a stage's tasks on a pool of threads and
//! reports each commit from the thread that ran it. Each thread is a lane
//! of the timeline; a task's start is taken as the thread's previous event
//! (or the stage's start), since a thread runs its tasks back to back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{SystemTime, UNIX_EPOCH};

use shoal_cluster::trace::{Attempt, AttemptOutcome, JobTrace, StageTrace};
use shoal_core::{ProgressEvent, ProgressSink};

use crate::metrics::{MetricsSnapshot, TaskCount};
use crate::model::{stage_progress, JobDetail, JobRow, Overview, WorkerDetail};
use crate::source::{Front, Source};
use crate::UiError;

/// One embedded run, as its dashboard sees it. Feed it progress events
/// (it is a [`ProgressSink`]); serve it (it is a [`Source`]).
pub struct LocalJob {
    name: String,
    /// Whether this process runs the tasks (threads are lanes); a cluster
    /// run's driver only hears of commits, so it draws no lanes.
    lanes: bool,
    state: Mutex<LocalState>,
}

struct LocalState {
    row: JobRow,
    trace: JobTrace,
    /// Lane and last event time (Unix µs) of each thread in the current stage.
    threads: HashMap<ThreadId, (String, u64)>,
    stage_started_us: u64,
    /// Input bytes reported by each thread since its last commit.
    pending_bytes: HashMap<ThreadId, u64>,
    /// Attempt counts by (stage, outcome) for /metrics.
    counts: HashMap<(u32, &'static str), u64>,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl LocalJob {
    /// The dashboard of a run of job `name` starting now.
    pub fn new(name: &str) -> LocalJob {
        let started_us = now_us();
        LocalJob {
            name: name.to_string(),
            lanes: true,
            state: Mutex::new(LocalState {
                row: JobRow {
                    id: name.to_string(),
                    name: name.to_string(),
                    state: "running".into(),
                    started_ms: started_us / 1000,
                    ..JobRow::default()
                },
                trace: JobTrace::new(started_us / 1000, &[]).with_output_sizes(),
                threads: HashMap::new(),
                stage_started_us: started_us,
                pending_bytes: HashMap::new(),
                counts: HashMap::new(),
            }),
        }
    }

    /// For a run whose tasks run elsewhere (on a cluster): stages,
    /// counts and throughput, but no timeline lanes — this process does not
    /// see where or when tasks ran (`shoal ui` shows that).
    pub fn without_lanes(mut self) -> Self {
        self.lanes = false;
        self
    }

    /// The id its page lives under (`/jobs/ID`).
    pub fn id(&self) -> &str {
        &self.name
    }

    /// The run ended: `succeeded`, `failed` (with the error) or `cancelled`.
    pub fn finish(&self, state: &str, error: &str) {
        let mut s = self.lock();
        s.row.state = state.to_string();
        s.row.error = error.to_string();
        s.row.finished_ms = now_us() / 1000;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LocalState {
    /// This thread's lane name and when its current task started.
    fn lane(&mut self, now: u64) -> (String, u64) {
        let next = self.threads.len() + 1;
        let since = self.stage_started_us;
        let entry = self
            .threads
            .entry(std::thread::current().id())
            .or_insert_with(|| (format!("thread {next}"), since));
        let started = std::mem::replace(&mut entry.1, now);
        (entry.0.clone(), started)
    }

    fn record(
        &mut self,
        lanes: bool,
        (stage, partition, attempt): (u32, u32, u32),
        outcome: AttemptOutcome<'_>,
    ) {
        let now = now_us();
        let (lane, started_us) = self.lane(now);
        let kind = match outcome {
            AttemptOutcome::Done { .. } => "done",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::Skipped => "skipped",
        };
        *self.counts.entry((stage, kind)).or_default() += 1;
        self.trace.record(&Attempt {
            worker: &lane,
            stage,
            partition,
            attempt,
            started_us,
            ended_us: now,
            outcome,
        });
        if !lanes {
            self.trace.timeline.lanes.remove(&lane);
        }
    }
}

impl ProgressSink for LocalJob {
    fn event(&self, event: &ProgressEvent<'_>) {
        let mut s = self.lock();
        match *event {
            ProgressEvent::StageStarted { stage, name, tasks } => {
                let now = now_us();
                let stages = &mut s.trace.stages;
                if stages.len() <= stage as usize {
                    stages.resize_with(stage as usize + 1, StageTrace::default);
                }
                stages[stage as usize].name = name.to_string();
                stages[stage as usize].tasks = tasks as u64;
                s.trace.stage_started(stage, now / 1000);
                s.stage_started_us = now;
                s.threads.clear();
            }
            ProgressEvent::Processed { stage, rows, bytes } => {
                *s.pending_bytes
                    .entry(std::thread::current().id())
                    .or_default() += bytes;
                if let Some(st) = s.trace.stages.get_mut(stage as usize) {
                    // Counted as they come, so a long task shows its pace.
                    st.rows += rows;
                    st.bytes_in += bytes;
                }
            }
            ProgressEvent::TaskFinished {
                stage,
                partition,
                attempt,
                bytes_out,
            } => {
                let bytes = s
                    .pending_bytes
                    .remove(&std::thread::current().id())
                    .unwrap_or(0);
                let done = AttemptOutcome::Done {
                    rows: 0,
                    bytes,
                    bytes_out,
                    first: true,
                };
                s.record(self.lanes, (stage, partition, attempt), done);
                // The stage counted these bytes as they came (above);
                // `record` added them once more.
                if let Some(st) = s.trace.stages.get_mut(stage as usize) {
                    st.bytes_in -= bytes.min(st.bytes_in);
                }
            }
            ProgressEvent::TaskFailed {
                stage,
                partition,
                attempt,
                error,
                ..
            } => {
                let chain = error.chain().to_string();
                let failed = AttemptOutcome::Failed { error: &chain };
                s.record(self.lanes, (stage, partition, attempt), failed);
            }
            ProgressEvent::StageFinished { stage, .. } => {
                s.trace.stage_finished(stage, now_us() / 1000);
            }
            _ => {}
        }
    }
}

impl Source for LocalJob {
    fn front(&self) -> Front {
        Front::Job(self.name.clone())
    }

    fn overview(&self) -> Result<Overview, UiError> {
        let s = self.lock();
        let mut row = s.row.clone();
        row.stages = stage_progress(&s.trace);
        row.failures = s.trace.stages.iter().map(|st| st.failed).sum();
        Ok(Overview {
            source: "embedded".into(),
            workers: Vec::new(),
            jobs: vec![row],
        })
    }

    fn job(&self, id: &str) -> Result<Option<JobDetail>, UiError> {
        if id != self.name {
            return Ok(None);
        }
        let s = self.lock();
        let mut row = s.row.clone();
        row.stages = stage_progress(&s.trace);
        row.failures = s.trace.stages.iter().map(|st| st.failed).sum();
        let lane_slots = s
            .trace
            .timeline
            .lanes
            .keys()
            .map(|k| (k.clone(), 1))
            .collect();
        Ok(Some(JobDetail {
            row,
            trace: s.trace.clone(),
            lane_slots,
            running: None,
            cancellable: false,
        }))
    }

    fn worker(&self, _name: &str) -> Result<Option<WorkerDetail>, UiError> {
        Ok(None)
    }

    fn cancel(&self, _id: &str) -> Result<bool, UiError> {
        Ok(false)
    }

    fn metrics(&self) -> Result<MetricsSnapshot, UiError> {
        let s = self.lock();
        let mut tasks: Vec<TaskCount> = s
            .counts
            .iter()
            .map(|(&(stage, outcome), &count)| TaskCount {
                job: self.name.clone(),
                stage: s
                    .trace
                    .stages
                    .get(stage as usize)
                    .map_or_else(|| stage.to_string(), |st| st.name.clone()),
                outcome: outcome.to_string(),
                count,
            })
            .collect();
        tasks.sort_by(|a, b| (&a.stage, &a.outcome).cmp(&(&b.stage, &b.outcome)));
        let mut durations = shoal_cluster::trace::DurationHistogram::default();
        for st in &s.trace.stages {
            durations.merge(&st.durations);
        }
        Ok(MetricsSnapshot {
            tasks,
            durations: vec![(self.name.clone(), durations)],
            ..MetricsSnapshot::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_events_become_stages_lanes_and_counts() {
        let job = LocalJob::new("wordcount");
        job.event(&ProgressEvent::StageStarted {
            stage: 0,
            name: "map",
            tasks: 2,
        });
        job.event(&ProgressEvent::Processed {
            stage: 0,
            rows: 5,
            bytes: 50,
        });
        for partition in 0..2 {
            job.event(&ProgressEvent::TaskFinished {
                stage: 0,
                partition,
                attempt: 0,
                bytes_out: 40,
            });
        }
        job.event(&ProgressEvent::StageFinished {
            stage: 0,
            name: "map",
            elapsed: std::time::Duration::from_millis(1),
        });
        job.finish("succeeded", "");
        let detail = job.job("wordcount").unwrap().unwrap();
        let stage = &detail.trace.stages[0];
        assert_eq!(
            (stage.tasks, stage.done, stage.rows, stage.bytes_in),
            (2, 2, 5, 50)
        );
        // Both attempts' outputs, sized: the job page shows them.
        assert_eq!(stage.bytes_out, 80);
        assert!(detail.trace.output_sizes);
        assert_eq!(
            detail.trace.timeline.lanes["thread 1"]
                .ended
                .iter()
                .sum::<u64>(),
            2
        );
        assert_eq!(detail.row.state, "succeeded");
        assert!(job.job("other").unwrap().is_none());
        let metrics = job.metrics().unwrap().render();
        assert!(
            metrics
                .contains("shoal_tasks_total{job=\"wordcount\",stage=\"map\",outcome=\"done\"} 2"),
            "{metrics}"
        );
    }

    #[test]
    fn a_cluster_run_counts_without_drawing_its_driver_as_a_worker() {
        let job = LocalJob::new("noop").without_lanes();
        job.event(&ProgressEvent::StageStarted {
            stage: 0,
            name: "noop",
            tasks: 1,
        });
        job.event(&ProgressEvent::TaskFinished {
            stage: 0,
            partition: 0,
            attempt: 0,
            bytes_out: 40,
        });
        let detail = job.job("noop").unwrap().unwrap();
        assert_eq!(detail.trace.stages[0].done, 1);
        assert!(detail.trace.timeline.lanes.is_empty());
        assert_eq!(detail.trace.timeline.done.iter().sum::<u64>(), 1);
    }
}
