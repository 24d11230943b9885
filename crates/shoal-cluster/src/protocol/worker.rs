//! A worker's registration: the hash its heartbeats keep alive, saying
//! where it runs, how busy it is and which jobs it can run.

use super::{FieldProblem, FieldSink, Fields};
use crate::protocol::DecodeError;

const HOST: &str = "host";
const SLOTS: &str = "slots";
const RUNNING: &str = "running";
const PID: &str = "pid";
const VERSION: &str = "version";
const BEAT_MS: &str = "beat_ms";
const JOBS: &str = "jobs";
const LOAD: &str = "load";

/// What a worker says about itself in every heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// Host name.
    pub host: String,
    /// Task slots.
    pub slots: u64,
    /// Tasks running at this heartbeat.
    pub running: u64,
    /// Process id.
    pub pid: u32,
    /// Version of the binary (its crate version).
    pub version: String,
    /// When this heartbeat was sent (Unix time, ms, the worker's clock).
    pub beat_ms: u64,
    /// Fingerprints (`name@version`) of every job in its registry, sorted:
    /// it claims tasks of these jobs and of no others.
    pub jobs: Vec<String>,
    /// What it has done and what it costs (for the dashboard); a worker
    /// that predates it reports none.
    pub load: WorkerLoad,
}

/// A worker's counters and resource use, sent with every heartbeat.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkerLoad {
    /// Attempts it committed since it started.
    pub done: u64,
    /// Attempts that failed since it started.
    pub failed: u64,
    /// CPU use of its process since the previous heartbeat (100 = one core).
    pub cpu_percent: Option<f64>,
    /// Resident memory of its process.
    pub rss_bytes: Option<u64>,
    /// Bytes it read from the store.
    pub bytes_read: u64,
    /// Bytes it wrote to the store.
    pub bytes_written: u64,
    /// Tasks running now, by job id.
    pub running_jobs: std::collections::BTreeMap<String, u64>,
}

impl WorkerInfo {
    /// Appends the hash's fields (after `HSET key`).
    pub(crate) fn encode(&self, out: &mut impl FieldSink) {
        out.field(HOST, &self.host);
        out.field(SLOTS, self.slots);
        out.field(RUNNING, self.running);
        out.field(PID, self.pid);
        out.field(VERSION, &self.version);
        out.field(BEAT_MS, self.beat_ms);
        // Names are the job author's strings: JSON keeps any of them intact.
        let jobs = serde_json::to_string(&self.jobs).unwrap_or_else(|_| "[]".into());
        out.field(JOBS, jobs);
        let load = serde_json::to_string(&self.load).unwrap_or_else(|_| "{}".into());
        out.field(LOAD, load);
    }

    /// Reads the hash at `key` (the field/value pairs HGETALL returns). A
    /// worker that predates routing has no job list: it offers nothing.
    pub(crate) fn decode(key: &str, hash: &[(String, Vec<u8>)]) -> Result<WorkerInfo, DecodeError> {
        let fields = Fields {
            describe: &|| format!("worker registration {key}"),
            pairs: hash,
        };
        let jobs = match fields.bytes(JOBS) {
            None => Vec::new(),
            Some(_) => {
                let text = fields.text(JOBS)?;
                serde_json::from_str(text)
                    .map_err(|_| fields.error(JOBS, FieldProblem::Invalid(text.to_string())))?
            }
        };
        Ok(WorkerInfo {
            host: fields.text(HOST)?.to_string(),
            slots: fields.num(SLOTS)?,
            running: fields.num_or_zero(RUNNING)?,
            pid: fields.num_or_zero(PID)?,
            version: fields.text(VERSION).unwrap_or_default().to_string(),
            beat_ms: fields.num(BEAT_MS)?,
            jobs,
            // Only shown, never acted on: an unreadable one shows as none.
            load: fields
                .text(LOAD)
                .ok()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        })
    }

    /// Whether this worker runs tasks of the job with `fingerprint`.
    pub fn offers(&self, fingerprint: &str) -> bool {
        self.jobs.iter().any(|job| job == fingerprint)
    }
}
