//! What `shoal status` and `shoal cancel` read and write.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::control::Control;
use crate::registrations::registrations;
use crate::reply::pending_consumers;
use crate::{keys, ClusterError};

/// A registered worker.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkerStatus {
    /// Worker name.
    pub name: String,
    /// Host it runs on.
    pub host: String,
    /// Task slots.
    pub slots: u64,
    /// Tasks running at the last heartbeat.
    pub running: u64,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms: u64,
    /// Fingerprints (`name@version`) of the jobs it runs, sorted.
    pub jobs: Vec<String>,
}

/// A job known to the control plane.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JobStatus {
    /// Run id.
    pub id: String,
    /// Job name.
    pub job: String,
    /// The job's fingerprint (`name@version`): workers holding it run its tasks.
    pub fingerprint: String,
    /// running, succeeded, failed or cancelled.
    pub state: String,
    /// Current (or last) stage index and name.
    pub stage: String,
    /// Stages in the plan.
    pub stages: u64,
    /// Tasks of the current stage committed.
    pub done: u64,
    /// Tasks in the current stage.
    pub total: u64,
    /// Failed attempts in the current stage.
    pub failures: u64,
    /// The error of a failed job.
    pub error: String,
}

/// The task stream of one job fingerprint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueStatus {
    /// The job's fingerprint (`name@version`).
    pub job: String,
    /// Task entries in the stream: waiting, or claimed and not yet reported.
    pub queued: u64,
    /// Of those, claimed by a worker.
    pub held: u64,
    /// Live workers that run this job (and so read this stream).
    pub workers: u64,
}

/// Live workers and recent jobs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClusterStatus {
    /// Workers whose heartbeat is current.
    pub workers: Vec<WorkerStatus>,
    /// Names of workers that stopped heartbeating since the last look.
    pub gone: Vec<String>,
    /// The most recent jobs, newest first.
    pub jobs: Vec<JobStatus>,
    /// Every job's task stream, by fingerprint.
    pub queues: Vec<QueueStatus>,
}

fn open(url: &str) -> Result<Control, ClusterError> {
    Control::open(url, Duration::from_secs(3), Duration::from_secs(3))
}

fn field<T: std::str::FromStr + Default>(map: &HashMap<String, String>, key: &str) -> T {
    map.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

/// Reads workers (pruning the ones that are gone) and the last `jobs` jobs.
pub fn cluster_status(url: &str, jobs: usize) -> Result<ClusterStatus, ClusterError> {
    let mut control = open(url)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut status = ClusterStatus {
        workers: Vec::new(),
        gone: Vec::new(),
        jobs: Vec::new(),
        queues: Vec::new(),
    };
    for registration in registrations(&mut control)? {
        let name = registration.name;
        let Some(info) = registration.info else {
            control.run("SREM worker", Duration::ZERO, |c| {
                redis::cmd("SREM")
                    .arg(keys::WORKERS)
                    .arg(&name)
                    .query::<()>(c)
            })?;
            status.gone.push(name);
            continue;
        };
        let info = info?;
        status.workers.push(WorkerStatus {
            host: info.host,
            slots: info.slots,
            running: info.running,
            last_heartbeat_ms: now.saturating_sub(info.beat_ms),
            jobs: info.jobs,
            name,
        });
    }
    status.queues = queues(&mut control, &status.workers)?;
    let ids: Vec<String> = control.run("ZREVRANGE jobs", Duration::ZERO, |c| {
        redis::cmd("ZREVRANGE")
            .arg(keys::JOBS)
            .arg(0)
            .arg(jobs.saturating_sub(1))
            .query(c)
    })?;
    for id in ids {
        let info: HashMap<String, String> = control.run("HGETALL job", Duration::ZERO, |c| {
            redis::cmd("HGETALL").arg(keys::job(&id)).query(c)
        })?;
        if info.is_empty() {
            continue;
        }
        let mut info = info;
        if info.get("state").map(String::as_str) == Some("running")
            && abandon_if_driver_gone(&mut control, &id)?
        {
            info.insert("state".into(), ABANDONED.into());
            info.insert("error".into(), DRIVER_GONE.into());
        }
        let get = |k: &str| info.get(k).cloned().unwrap_or_default();
        status.jobs.push(JobStatus {
            job: get("job"),
            fingerprint: get("fingerprint"),
            state: get("state"),
            stage: format!("{} {}", get("stage"), get("stage_name"))
                .trim()
                .to_string(),
            stages: field(&info, "stages"),
            done: field(&info, "done"),
            total: field(&info, "total"),
            failures: field(&info, "failures"),
            error: get("error"),
            id,
        });
    }
    Ok(status)
}

/// Entries of every task stream, and how many of `workers` read it.
pub(crate) fn queues(
    control: &mut Control,
    workers: &[WorkerStatus],
) -> Result<Vec<QueueStatus>, ClusterError> {
    let mut streams: Vec<String> = control.run("SMEMBERS queues", Duration::ZERO, |c| {
        redis::cmd("SMEMBERS").arg(keys::QUEUES).query(c)
    })?;
    streams.sort();
    if streams.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<(u64, redis::Value)> = control.run("XLEN+XPENDING", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for stream in &streams {
            pipe.cmd("XLEN").arg(stream);
            pipe.cmd("XPENDING").arg(stream).arg(keys::GROUP);
        }
        // Replies come flat, two per stream.
        let flat: Vec<redis::Value> = pipe.query(c)?;
        Ok(flat
            .chunks(2)
            .map(|pair| {
                let queued = match pair[0] {
                    redis::Value::Int(n) => n.max(0) as u64,
                    _ => 0,
                };
                (queued, pair[1].clone())
            })
            .collect())
    })?;
    Ok(streams
        .iter()
        .zip(counts)
        .map(|(stream, (queued, pending))| {
            let job = keys::fingerprint_of_tasks(stream).to_string();
            let held = pending_consumers(&pending).iter().map(|(_, n)| n).sum();
            let workers = workers.iter().filter(|w| w.jobs.contains(&job)).count() as u64;
            QueueStatus {
                job,
                queued,
                held,
                workers,
            }
        })
        .collect())
}

/// State of a job whose driver stopped renewing its liveness key.
pub(crate) const ABANDONED: &str = "abandoned";
const DRIVER_GONE: &str = "its driver stopped (liveness key expired)";

/// A job still marked running whose driver is gone (killed, cut off) is
/// marked abandoned, so status stops showing it as running; workers
/// already skip its tasks. Returns whether it was.
pub(crate) fn abandon_if_driver_gone(
    control: &mut Control,
    id: &str,
) -> Result<bool, ClusterError> {
    let alive: bool = control.run("EXISTS job alive", Duration::ZERO, |c| {
        redis::cmd("EXISTS").arg(keys::job_alive(id)).query(c)
    })?;
    if alive {
        return Ok(false);
    }
    control.run("abandon job", Duration::ZERO, |c| {
        redis::pipe()
            .cmd("HSET")
            .arg(keys::job(id))
            .arg("state")
            .arg(ABANDONED)
            .arg("error")
            .arg(DRIVER_GONE)
            .ignore()
            .cmd("HDEL")
            .arg(keys::job(id))
            .arg("spec")
            .ignore()
            // The default retention, not the job's --history: the sweep
            // must still find the hash once the job's bound has passed, to
            // give it up and delete its objects, however short the history.
            .cmd("EXPIRE")
            .arg(keys::job(id))
            .arg(crate::driver::HISTORY_SECONDS)
            .ignore()
            .cmd("DEL")
            .arg(keys::job_events(id))
            .ignore()
            .query::<()>(c)
    })?;
    Ok(true)
}

/// Marks a running job cancelled; its driver stops within a second and
/// workers drop its queued tasks. Returns `false` when no such job runs.
pub fn cancel_job(url: &str, job_id: &str) -> Result<bool, ClusterError> {
    cancel_with(&mut open(url)?, job_id)
}

/// [`cancel_job`] on an open connection.
pub(crate) fn cancel_with(control: &mut Control, job_id: &str) -> Result<bool, ClusterError> {
    let state: Option<String> = control.run("HGET state", Duration::ZERO, |c| {
        redis::cmd("HGET")
            .arg(keys::job(job_id))
            .arg("state")
            .query(c)
    })?;
    if state.as_deref() != Some("running") {
        return Ok(false);
    }
    control.run("cancel", Duration::ZERO, |c| {
        redis::cmd("HSET")
            .arg(keys::job(job_id))
            .arg("state")
            .arg("cancelled")
            .query::<()>(c)
    })?;
    Ok(true)
}
