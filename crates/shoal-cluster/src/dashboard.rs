//! What the dashboard reads from the control plane: workers, jobs with
//! their traces, a worker's recent attempts and the accumulated task
//! counters — each in a pipeline, so a page costs a few round trips
//! however large the cluster.

use std::collections::HashMap;
use std::time::Duration;

use crate::control::Control;
use crate::protocol::WorkerInfo;
use crate::trace::{DurationHistogram, JobTrace, TaskSample};
use crate::{keys, ClusterError};

/// A live worker's registration.
#[derive(Debug, Clone)]
pub struct WorkerSnapshot {
    /// Its name.
    pub name: String,
    /// What its last heartbeat said.
    pub info: WorkerInfo,
}

/// A job's hash and trace.
#[derive(Debug, Clone)]
pub struct JobSnapshot {
    /// Run id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// running, succeeded, failed, cancelled or abandoned.
    pub state: String,
    /// Start (Unix ms).
    pub started_ms: u64,
    /// End (Unix ms), 0 while running.
    pub finished_ms: u64,
    /// Why it failed.
    pub error: String,
    /// Its trace, when its driver wrote one.
    pub trace: Option<JobTrace>,
}

/// Attempt counts and durations accumulated by every driver, by job name.
#[derive(Debug, Clone, Default)]
pub struct TaskCounters {
    /// (job, stage, outcome, count).
    pub tasks: Vec<(String, String, String, u64)>,
    /// Durations of committed attempts per job.
    pub durations: Vec<(String, DurationHistogram)>,
}

/// One attempt a worker ran, with its job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct WorkerAttempt {
    /// Run id of the job.
    pub job_id: String,
    /// Name of the stage.
    pub stage_name: String,
    /// The attempt.
    #[serde(flatten)]
    pub sample: TaskSample,
}

/// A job's hash, field by field.
type JobHash = HashMap<String, String>;

/// A connection for dashboard reads.
pub struct DashboardReader {
    control: Control,
}

fn field<T: std::str::FromStr + Default>(map: &HashMap<String, String>, key: &str) -> T {
    map.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

impl DashboardReader {
    /// Connects to the control plane at `url` (short timeouts: a page
    /// should say "unreachable" rather than hang).
    pub fn open(url: &str) -> Result<Self, ClusterError> {
        let control = Control::open(url, Duration::from_secs(3), Duration::from_secs(3))?;
        Ok(DashboardReader { control })
    }

    /// The control plane's address, password redacted.
    pub fn server(&self) -> String {
        self.control.server().to_string()
    }

    /// Live workers, by name.
    pub fn workers(&mut self) -> Result<Vec<WorkerSnapshot>, ClusterError> {
        let mut names: Vec<String> = self.control.run("SMEMBERS workers", Duration::ZERO, |c| {
            redis::cmd("SMEMBERS").arg(keys::WORKERS).query(c)
        })?;
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let hashes: Vec<HashMap<String, Vec<u8>>> =
            self.control.run("HGETALL workers", Duration::ZERO, |c| {
                let mut pipe = redis::pipe();
                for name in &names {
                    pipe.cmd("HGETALL").arg(keys::worker(name));
                }
                pipe.query(c)
            })?;
        let mut workers = Vec::new();
        for (name, hash) in names.into_iter().zip(hashes) {
            if hash.is_empty() {
                continue;
            }
            let pairs: Vec<(String, Vec<u8>)> = hash.into_iter().collect();
            // A registration nobody can read is left out, not fatal.
            if let Ok(info) = WorkerInfo::decode(&keys::worker(&name), &pairs) {
                workers.push(WorkerSnapshot { name, info });
            }
        }
        Ok(workers)
    }

    /// Ids of the jobs started since `since_ms` (Unix ms), newest first,
    /// at most `limit`.
    pub fn job_ids(&mut self, since_ms: u64, limit: usize) -> Result<Vec<String>, ClusterError> {
        self.control
            .run("ZREVRANGEBYSCORE jobs", Duration::ZERO, |c| {
                redis::cmd("ZREVRANGEBYSCORE")
                    .arg(keys::JOBS)
                    .arg("+inf")
                    .arg(since_ms)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .query(c)
            })
    }

    /// The jobs with these ids that still exist, in the same order; the
    /// trace only for ids in `with_trace`.
    pub fn jobs(
        &mut self,
        ids: &[String],
        with_trace: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<JobSnapshot>, ClusterError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&String> = ids.iter().filter(|id| with_trace(id)).collect();
        let (hashes, traces): (Vec<JobHash>, Vec<Option<Vec<u8>>>) =
            self.control.run("HGETALL jobs", Duration::ZERO, |c| {
                let mut pipe = redis::pipe();
                for id in ids {
                    pipe.cmd("HGETALL").arg(keys::job(id));
                }
                let hashes: Vec<JobHash> = pipe.query(c)?;
                let mut pipe = redis::pipe();
                for id in &wanted {
                    pipe.cmd("GET").arg(keys::job_trace(id));
                }
                let traces: Vec<Option<Vec<u8>>> = if wanted.is_empty() {
                    Vec::new()
                } else {
                    pipe.query(c)?
                };
                Ok((hashes, traces))
            })?;
        let mut traces: HashMap<&str, JobTrace> = wanted
            .iter()
            .zip(traces)
            .filter_map(|(id, t)| Some((id.as_str(), JobTrace::from_json(&t?).ok()?)))
            .collect();
        let mut jobs = Vec::new();
        for (id, info) in ids.iter().zip(hashes) {
            if info.is_empty() {
                continue;
            }
            let mut state: String = field(&info, "state");
            let mut error: String = field(&info, "error");
            if state == "running" && crate::status::abandon_if_driver_gone(&mut self.control, id)? {
                state = crate::status::ABANDONED.into();
                error = "its driver stopped (liveness key expired)".into();
            }
            jobs.push(JobSnapshot {
                name: field(&info, "job"),
                state,
                started_ms: field(&info, "started_ms"),
                finished_ms: field(&info, "finished_ms"),
                error,
                trace: traces.remove(id.as_str()),
                id: id.clone(),
            });
        }
        Ok(jobs)
    }

    /// The state of each job with these ids that still exists — a
    /// running one whose driver is gone is abandoned — reading one field
    /// per job, not its hash: `/metrics` counts states of every job in its
    /// window at each scrape.
    pub fn job_states(&mut self, ids: &[String]) -> Result<Vec<String>, ClusterError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let states: Vec<Option<String>> = self.control.run("HGET states", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            for id in ids {
                pipe.cmd("HGET").arg(keys::job(id)).arg("state");
            }
            pipe.query(c)
        })?;
        let mut known = Vec::new();
        for (id, state) in ids.iter().zip(states) {
            let Some(mut state) = state else { continue };
            if state == "running" && crate::status::abandon_if_driver_gone(&mut self.control, id)? {
                state = crate::status::ABANDONED.into();
            }
            known.push(state);
        }
        Ok(known)
    }

    /// A worker's most recent attempts (newest first).
    pub fn worker_recent(&mut self, name: &str) -> Result<Vec<WorkerAttempt>, ClusterError> {
        let text: Option<Vec<u8>> = self.control.run("GET worker recent", Duration::ZERO, |c| {
            redis::cmd("GET").arg(keys::worker_recent(name)).query(c)
        })?;
        Ok(text
            .and_then(|t| serde_json::from_slice(&t).ok())
            .unwrap_or_default())
    }

    /// Attempt counts and durations every driver has accumulated.
    pub fn task_counters(&mut self) -> Result<TaskCounters, ClusterError> {
        let (tasks, durations): (HashMap<String, u64>, HashMap<String, u64>) =
            self.control.run("HGETALL metrics", Duration::ZERO, |c| {
                redis::pipe()
                    .cmd("HGETALL")
                    .arg(keys::METRIC_TASKS)
                    .cmd("HGETALL")
                    .arg(keys::METRIC_DURATIONS)
                    .query(c)
            })?;
        let mut counters = TaskCounters::default();
        for (field, n) in tasks {
            if let Ok([job, stage, outcome]) = serde_json::from_str::<[String; 3]>(&field) {
                counters.tasks.push((job, stage, outcome, n));
            }
        }
        counters.tasks.sort();
        let mut per_job: HashMap<String, DurationHistogram> = HashMap::new();
        for (field, n) in durations {
            let Ok([job, which]) = serde_json::from_str::<[String; 2]>(&field) else {
                continue;
            };
            let histogram = per_job.entry(job).or_default();
            if histogram.counts.is_empty() {
                histogram.counts = vec![0; crate::trace::BOUNDS_SECONDS.len() + 1];
            }
            match which.parse::<usize>() {
                Ok(bucket) if bucket < histogram.counts.len() => histogram.counts[bucket] += n,
                _ if which == "sum_us" => histogram.sum_us += n,
                _ => {}
            }
        }
        counters.durations = per_job.into_iter().collect();
        counters.durations.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(counters)
    }

    /// Task entries queued (waiting or running) per job fingerprint
    /// (`name@version`: one task stream each).
    pub fn queues(&mut self) -> Result<Vec<(String, u64)>, ClusterError> {
        let queues = crate::status::queues(&mut self.control, &[])?;
        Ok(queues.into_iter().map(|q| (q.job, q.queued)).collect())
    }

    /// Cancels a running job; `false` when no such job runs.
    pub fn cancel(&mut self, job_id: &str) -> Result<bool, ClusterError> {
        crate::status::cancel_with(&mut self.control, job_id)
    }
}
