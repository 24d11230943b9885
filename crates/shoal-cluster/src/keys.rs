//! Every Redis key and store path cluster mode uses, in one place.

/// The consumer group of all workers on every task stream.
pub const GROUP: &str = "workers";
/// Set of every task stream's key (for `shoal status`).
pub const QUEUES: &str = "shoal:queues";
/// Set of worker names ever registered (pruned by `shoal status`).
pub const WORKERS: &str = "shoal:workers";
/// Sorted set of job ids by start time.
pub const JOBS: &str = "shoal:jobs";
/// Set of published jobs whose store objects may remain (see
/// `abandoned.rs`).
pub const UNSWEPT: &str = "shoal:unswept";
/// Set once the store's `jobs/` were matched against [`UNSWEPT`]; missing
/// when Redis lost its data (see `abandoned.rs`).
pub const STORE_SCANNED: &str = "shoal:unswept:scanned";
/// Held (with a TTL) by the worker whose turn it is to sweep.
pub const SWEEPER: &str = "shoal:sweeper";

/// The task stream of the job with `fingerprint` (`name@version`): only
/// workers holding that job read it.
pub fn tasks(fingerprint: &str) -> String {
    format!("{TASKS_PREFIX}{fingerprint}")
}

/// What every task stream's key starts with.
const TASKS_PREFIX: &str = "shoal:tasks:";

/// The fingerprint of the job whose task stream is `key`.
pub fn fingerprint_of_tasks(key: &str) -> &str {
    key.strip_prefix(TASKS_PREFIX).unwrap_or(key)
}

/// Hash describing a live worker; expires unless heartbeats renew it.
pub fn worker(name: &str) -> String {
    format!("shoal:worker:{name}")
}

/// The consumer that holds the task entries a worker named `name` left
/// pending when it was restarted under that name (`worker/handover.rs`):
/// no worker registers under it, so drivers reclaim them as from a lost
/// worker.
pub fn predecessor(name: &str) -> String {
    format!("{name}{PREDECESSOR_SUFFIX}")
}

/// What [`predecessor`] appends to a worker's name.
const PREDECESSOR_SUFFIX: &str = " (restarted)";

/// The worker whose predecessor's entries consumer `consumer` holds, if it
/// is such a consumer.
pub fn restarted_worker(consumer: &str) -> Option<&str> {
    consumer.strip_suffix(PREDECESSOR_SUFFIX)
}

/// Hash describing a job: spec, state, stage progress, error.
pub fn job(id: &str) -> String {
    format!("shoal:job:{id}")
}

/// Key that exists while the job's driver is alive (TTL renewed).
pub fn job_alive(id: &str) -> String {
    format!("shoal:job:{id}:alive")
}

/// Stream of task reports from workers to the job's driver.
pub fn job_events(id: &str) -> String {
    format!("shoal:job:{id}:events")
}

/// Store key of a committed shuffle partition file.
pub fn shuffle_object(job_id: &str, stage: u32, partition: u32) -> String {
    format!("jobs/{job_id}/s{stage}/p{partition}")
}

/// Store key of a committed result blob.
pub fn result_object(job_id: &str, stage: u32, partition: u32) -> String {
    format!("jobs/{job_id}/s{stage}/r{partition}")
}

/// Store key of a results stage's index (see `results.rs`).
pub fn results_index(job_id: &str, stage: u32) -> String {
    format!("jobs/{job_id}/s{stage}/results")
}

/// Store prefix of everything a job wrote — its tasks' outputs and what
/// its driver uploaded for it (`shoal map`'s shipped files): deleted when
/// the job ends, or by the workers' sweep when its driver is gone.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}")
}

/// A job's trace for the dashboard (JSON of `trace::JobTrace`).
pub fn job_trace(id: &str) -> String {
    format!("shoal:job:{id}:trace")
}

/// A worker's recent attempts for the dashboard (JSON), renewed with its
/// heartbeats.
pub fn worker_recent(name: &str) -> String {
    format!("shoal:worker:{name}:recent")
}

/// Hash of attempt counts by job name, stage name and outcome (fields from
/// [`metric_field`]), accumulated by drivers for `/metrics`.
pub const METRIC_TASKS: &str = "shoal:metrics:tasks";
/// Hash of committed-attempt duration buckets and sums by job name.
pub const METRIC_DURATIONS: &str = "shoal:metrics:durations";

/// A metrics hash field naming its labels: a JSON array, so names with any
/// characters stay intact.
pub fn metric_field(labels: &[&str]) -> String {
    serde_json::to_string(labels).unwrap_or_default()
}
