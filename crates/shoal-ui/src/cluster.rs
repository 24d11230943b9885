//! The dashboard of a cluster: everything read from its control plane.
//!
//! One connection, shared by the page requests (a mutex: reads are a few
//! pipelined round trips). Traces of finished jobs never change, so they
//! are read once and kept; only running jobs' traces are read again. How
//! many browsers are open does not change what the cluster's hot path
//! pays: the dashboard only reads what drivers and workers already write.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use shoal_cluster::dashboard::{DashboardReader, JobSnapshot, WorkerSnapshot};
use shoal_cluster::trace::JobTrace;

use crate::metrics::{MetricsSnapshot, TaskCount, WorkerGauges};
use crate::model::{
    stage_progress, JobDetail, JobRow, Overview, RecentTask, WorkerDetail, WorkerRow,
};
use crate::source::{Front, Source};
use crate::UiError;

/// Most jobs the overview lists.
const OVERVIEW_JOBS: usize = 100;
/// Most recent jobs `shoal_jobs` counts.
const METRIC_JOBS: usize = 10_000;
/// Most finished traces kept in memory.
const CACHED_TRACES: usize = 256;

/// A cluster's control plane as a [`Source`].
pub struct ClusterSource {
    url_label: String,
    history: Duration,
    state: Mutex<State>,
}

struct State {
    reader: Option<DashboardReader>,
    url: String,
    /// Traces of finished jobs, by id.
    finished: HashMap<String, JobTrace>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ClusterSource {
    /// Reads the control plane at `url`, showing jobs started within
    /// `history`. Connects now, so a wrong URL or an unreachable server is
    /// reported at start.
    pub fn open(url: &str, history: Duration) -> Result<Self, UiError> {
        let reader = DashboardReader::open(url)?;
        Ok(ClusterSource {
            url_label: reader.server(),
            history,
            state: Mutex::new(State {
                reader: Some(reader),
                url: url.to_string(),
                finished: HashMap::new(),
            }),
        })
    }

    /// Where the data comes from, password redacted.
    pub fn label(&self) -> &str {
        &self.url_label
    }

    /// Runs `read` on the connection, reconnecting once if it failed.
    fn read<T>(
        &self,
        read: impl Fn(
            &mut DashboardReader,
            &mut HashMap<String, JobTrace>,
        ) -> Result<T, shoal_cluster::ClusterError>,
    ) -> Result<T, UiError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            reader,
            url,
            finished,
        } = &mut *state;
        if reader.is_none() {
            *reader = Some(DashboardReader::open(url)?);
        }
        let r = reader.as_mut().expect("connected above");
        match read(r, finished) {
            Ok(value) => Ok(value),
            Err(err) => {
                *reader = None;
                Err(err.into())
            }
        }
    }

    fn since_ms(&self) -> u64 {
        now_ms().saturating_sub(self.history.as_millis() as u64)
    }
}

/// Reads jobs, taking finished traces from (and adding them to) `cache`.
fn read_jobs(
    reader: &mut DashboardReader,
    cache: &mut HashMap<String, JobTrace>,
    ids: &[String],
) -> Result<Vec<JobSnapshot>, shoal_cluster::ClusterError> {
    let mut jobs = reader.jobs(ids, &|id| !cache.contains_key(id))?;
    for job in &mut jobs {
        match job.trace.take() {
            Some(trace) if job.state != "running" => {
                if cache.len() >= CACHED_TRACES {
                    cache.clear();
                }
                cache.insert(job.id.clone(), trace.clone());
                job.trace = Some(trace);
            }
            Some(trace) => job.trace = Some(trace),
            None => job.trace = cache.get(&job.id).cloned(),
        }
    }
    Ok(jobs)
}

fn job_row(job: &JobSnapshot) -> JobRow {
    let (stages, failures) = job.trace.as_ref().map_or((Vec::new(), 0), |t| {
        (stage_progress(t), t.stages.iter().map(|s| s.failed).sum())
    });
    JobRow {
        id: job.id.clone(),
        name: job.name.clone(),
        state: job.state.clone(),
        started_ms: job.started_ms,
        finished_ms: job.finished_ms,
        stages,
        failures,
        error: job.error.clone(),
    }
}

fn worker_row(w: &WorkerSnapshot, now: u64) -> WorkerRow {
    let i = &w.info;
    WorkerRow {
        name: w.name.clone(),
        host: i.host.clone(),
        slots: i.slots,
        running: i.running,
        heartbeat_age_ms: now.saturating_sub(i.beat_ms),
        done: i.load.done,
        failed: i.load.failed,
        cpu_percent: i.load.cpu_percent,
        rss_bytes: i.load.rss_bytes,
        version: i.version.clone(),
    }
}

impl Source for ClusterSource {
    fn front(&self) -> Front {
        Front::Overview
    }

    fn overview(&self) -> Result<Overview, UiError> {
        let since = self.since_ms();
        let (workers, jobs) = self.read(|r, cache| {
            let workers = r.workers()?;
            let ids = r.job_ids(since, OVERVIEW_JOBS)?;
            Ok((workers, read_jobs(r, cache, &ids)?))
        })?;
        let now = now_ms();
        Ok(Overview {
            source: self.url_label.clone(),
            workers: workers.iter().map(|w| worker_row(w, now)).collect(),
            jobs: jobs.iter().map(job_row).collect(),
        })
    }

    fn job(&self, id: &str) -> Result<Option<JobDetail>, UiError> {
        let ids = [id.to_string()];
        let (workers, mut jobs) = self.read(|r, cache| {
            let workers = r.workers()?;
            Ok((workers, read_jobs(r, cache, &ids)?))
        })?;
        let Some(job) = jobs.pop() else {
            return Ok(None);
        };
        let row = job_row(&job);
        let running = (job.state == "running").then(|| {
            workers
                .iter()
                .map(|w| w.info.load.running_jobs.get(&job.id).copied().unwrap_or(0))
                .sum()
        });
        let cancellable = job.state == "running";
        let trace = job
            .trace
            .unwrap_or_else(|| JobTrace::new(job.started_ms, &[]));
        Ok(Some(JobDetail {
            lane_slots: workers
                .iter()
                .map(|w| (w.name.clone(), w.info.slots))
                .collect(),
            row,
            trace,
            running,
            cancellable,
        }))
    }

    fn worker(&self, name: &str) -> Result<Option<WorkerDetail>, UiError> {
        let (workers, recent) = self.read(|r, _| Ok((r.workers()?, r.worker_recent(name)?)))?;
        let Some(w) = workers.iter().find(|w| w.name == name) else {
            return Ok(None);
        };
        Ok(Some(WorkerDetail {
            row: worker_row(w, now_ms()),
            offers: w.info.jobs.clone(),
            recent: recent
                .into_iter()
                .map(|a| RecentTask {
                    job_id: a.job_id,
                    stage_name: a.stage_name,
                    sample: a.sample,
                })
                .collect(),
        }))
    }

    fn cancel(&self, id: &str) -> Result<bool, UiError> {
        self.read(|r, _| r.cancel(id))
    }

    fn metrics(&self) -> Result<MetricsSnapshot, UiError> {
        let since = self.since_ms();
        let (workers, counters, queues, states) = self.read(|r, _| {
            let workers = r.workers()?;
            let counters = r.task_counters()?;
            let queues = r.queues()?;
            let ids = r.job_ids(since, METRIC_JOBS)?;
            let mut states: HashMap<String, u64> = HashMap::new();
            for state in r.job_states(&ids)? {
                *states.entry(state).or_default() += 1;
            }
            Ok((workers, counters, queues, states))
        })?;
        let mut jobs: Vec<(String, u64)> = states.into_iter().collect();
        jobs.sort();
        Ok(MetricsSnapshot {
            workers: workers
                .iter()
                .map(|w| WorkerGauges {
                    name: Some(w.name.clone()),
                    slots: w.info.slots,
                    running: w.info.running,
                    bytes_read: w.info.load.bytes_read,
                    bytes_written: w.info.load.bytes_written,
                })
                .collect(),
            tasks: counters
                .tasks
                .into_iter()
                .map(|(job, stage, outcome, count)| TaskCount {
                    job,
                    stage,
                    outcome,
                    count,
                })
                .collect(),
            durations: counters.durations,
            queues: Some(queues),
            jobs: Some(jobs),
        })
    }
}
