//! Every Redis key and store path cluster mode uses, in one place.

/// The task stream every worker reads.
pub const TASKS: &str = "shoal:tasks";
/// The consumer group of all workers on [`TASKS`].
pub const GROUP: &str = "workers";
/// Set of worker names ever registered (pruned by `shoal status`).
pub const WORKERS: &str = "shoal:workers";
/// Sorted set of job ids by start time.
pub const JOBS: &str = "shoal:jobs";

/// Hash describing a live worker; expires unless heartbeats renew it.
pub fn worker(name: &str) -> String {
    format!("shoal:worker:{name}")
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

/// Store prefix of everything a job wrote.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}")
}
