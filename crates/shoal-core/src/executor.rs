//! The executor trait and the driver-side entry point.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::stats::{peak_rss_bytes, StatsRecorder};
use crate::{JobError, JobSpec, JobStats, OutputFormat, Plan, ProgressSink, Registry};

/// A prepared, planned job ready to run.
pub struct JobRun {
    /// Unique id of this run, e.g. `wordcount-18c2f0a4b1d3`.
    pub id: String,
    /// The spec with prepared parameters: what a remote node plans from.
    pub spec: JobSpec,
    /// The plan built from `spec` on this node.
    pub plan: Plan,
}

impl JobRun {
    /// A run of `plan` under a fresh id. `spec` is what remote nodes plan
    /// from; programs that build plans directly (such as `DistArray`
    /// pipelines) pass the spec of the registered job that rebuilds them.
    pub fn new(spec: JobSpec, plan: Plan) -> Self {
        JobRun {
            id: new_job_id(&spec.job),
            spec,
            plan,
        }
    }
}

/// What a job returns.
///
/// An [`Executor`] returns the last stage's result blobs
/// ([`JobOutput::new`]); [`run_job`] adds the job's finished result
/// ([`Job::finish`](crate::Job::finish) of those blobs) and the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Run id.
    pub job_id: String,
    /// The last stage's result blobs, by partition.
    pub results: Vec<Bytes>,
    /// The job's result: what [`Job::finish`](crate::Job::finish) made of
    /// `results`, to show as `format` says. Empty until [`run_job`] fills it.
    pub result: Bytes,
    /// How `result` is shown ([`Job::output_format`](crate::Job::output_format)).
    pub format: OutputFormat,
    /// What the run cost. Never part of the result: it differs from run to
    /// run.
    pub stats: JobStats,
}

impl JobOutput {
    /// What an executor returns: the last stage's `results` of run `job_id`,
    /// with default statistics (executors may fill fields of their own).
    pub fn new(job_id: impl Into<String>, results: Vec<Bytes>) -> Self {
        JobOutput {
            job_id: job_id.into(),
            results,
            result: Bytes::new(),
            format: OutputFormat::Text,
            stats: JobStats::default(),
        }
    }
}

/// Runs planned jobs: embedded on this process's threads, or on a cluster.
pub trait Executor {
    /// Runs every stage of `run` and returns the last stage's results.
    fn execute(&self, run: &JobRun, progress: &dyn ProgressSink) -> Result<JobOutput, JobError>;
}

/// A run id: the job name plus a value unique across processes and time.
fn new_job_id(job: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 40);
    format!("{job}-{mixed:x}")
}

/// Looks up `spec.job`, prepares and plans it on this (driver) node, runs
/// it on `executor`, and finishes it ([`Job::finish`](crate::Job::finish),
/// once, here): the output carries the stage results, the job's result and
/// the run's statistics.
pub fn run_job(
    executor: &dyn Executor,
    registry: &Registry,
    spec: JobSpec,
    progress: &dyn ProgressSink,
) -> Result<JobOutput, JobError> {
    let started = Instant::now();
    let job = registry.get(&spec.job)?;
    let params = job.prepare(spec.params)?;
    let plan = job.plan(&params)?;
    plan.validate(job.name())?;
    let planning = started.elapsed();
    let names = plan.stages().iter().map(|s| s.name().to_string()).collect();
    let recorder = StatsRecorder::new(names, progress);
    let run = JobRun::new(
        JobSpec {
            job: spec.job,
            params,
        },
        plan,
    );
    let mut output = executor.execute(&run, &recorder)?;
    let finishing = Instant::now();
    output.result = job.finish(&run.spec.params, output.results.clone())?;
    output.format = job.output_format();
    let stats = &mut output.stats;
    stats.set_stages(recorder.stats().stages);
    stats.job = run.spec.job.clone();
    stats.job_id = output.job_id.clone();
    stats.planning = planning;
    stats.finish = finishing.elapsed();
    stats.wall = started.elapsed();
    stats.peak_rss_bytes = peak_rss_bytes();
    Ok(output)
}
