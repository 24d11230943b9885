//! What the pages show, as plain data: a [`Source`](crate::Source) fills
//! these, the pages render them as HTML and the API as JSON.

use serde::Serialize;
use shoal_cluster::trace::{JobTrace, TaskSample};

/// The cluster at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// Where the data comes from (a redacted `redis://` URL, or "embedded").
    pub source: String,
    /// Live workers, by name.
    pub workers: Vec<WorkerRow>,
    /// Jobs within the retention time, newest first.
    pub jobs: Vec<JobRow>,
}

/// One worker, as its last heartbeat described it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerRow {
    /// Its name.
    pub name: String,
    /// Host it runs on.
    pub host: String,
    /// Task slots.
    pub slots: u64,
    /// Tasks running.
    pub running: u64,
    /// Milliseconds since its last heartbeat.
    pub heartbeat_age_ms: u64,
    /// Attempts it finished that committed, since it started.
    pub done: u64,
    /// Attempts it finished that failed, since it started.
    pub failed: u64,
    /// CPU use of its process over the last heartbeat period (100 = one core).
    pub cpu_percent: Option<f64>,
    /// Resident memory of its process.
    pub rss_bytes: Option<u64>,
    /// Binary version.
    pub version: String,
}

/// One job, for the overview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobRow {
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
    /// Per stage: name, tasks and how far along.
    pub stages: Vec<StageProgress>,
    /// Failed attempts over all stages.
    pub failures: u64,
    /// Why a failed job failed.
    pub error: String,
}

/// A stage's progress bar.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageProgress {
    /// Stage name.
    pub name: String,
    /// Tasks.
    pub tasks: u64,
    /// Committed.
    pub done: u64,
    /// Failed attempts.
    pub failed: u64,
}

/// Everything on a job's page.
#[derive(Debug, Clone, Serialize)]
pub struct JobDetail {
    /// The job's summary.
    pub row: JobRow,
    /// Its trace: stages, timeline, recent attempts, failures.
    pub trace: JobTrace,
    /// Slots per timeline lane (worker), where known, to scale its bars.
    pub lane_slots: Vec<(String, u64)>,
    /// Tasks of this job running now, where known.
    pub running: Option<u64>,
    /// Whether the page offers a cancel button.
    pub cancellable: bool,
}

/// Everything on a worker's page.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerDetail {
    /// The worker's summary.
    pub row: WorkerRow,
    /// Jobs it runs (fingerprints `name@version`).
    pub offers: Vec<String>,
    /// Its most recent attempts, newest first, with the job of each.
    pub recent: Vec<RecentTask>,
}

/// One attempt on a worker's page.
#[derive(Debug, Clone, Serialize)]
pub struct RecentTask {
    /// Run id of its job.
    pub job_id: String,
    /// Stage name.
    pub stage_name: String,
    /// The attempt.
    #[serde(flatten)]
    pub sample: TaskSample,
}

impl JobRow {
    /// Tasks committed over all stages, and tasks in all.
    pub fn totals(&self) -> (u64, u64) {
        self.stages
            .iter()
            .fold((0, 0), |(d, t), s| (d + s.done, t + s.tasks))
    }
}

/// The progress bars of a trace's stages.
pub fn stage_progress(trace: &JobTrace) -> Vec<StageProgress> {
    trace
        .stages
        .iter()
        .map(|s| StageProgress {
            name: s.name.clone(),
            tasks: s.tasks,
            done: s.done,
            failed: s.failed,
        })
        .collect()
}
