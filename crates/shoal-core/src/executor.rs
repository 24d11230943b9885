//! The executor trait and the driver-side entry point.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::{JobError, JobSpec, Plan, ProgressSink, Registry};

/// A prepared, planned job ready to run.
pub struct JobRun {
    /// Unique id of this run, e.g. `wordcount-18c2f0a4b1d3`.
    pub id: String,
    /// The spec with prepared parameters: what a remote node plans from.
    pub spec: JobSpec,
    /// The plan built from `spec` on this node.
    pub plan: Plan,
    /// The version of the registered job (see [`Job::version`](crate::Job::version)): only
    /// workers holding this version of the job run its tasks.
    pub version: u32,
}

impl JobRun {
    /// A run of `plan` under a fresh id, as version 1 of its job. `spec` is
    /// what remote nodes plan from; programs that build plans directly
    /// (such as `DistArray` pipelines) pass the spec of the registered job
    /// that rebuilds them.
    pub fn new(spec: JobSpec, plan: Plan) -> Self {
        JobRun::versioned(spec, 1, plan)
    }

    /// A run of `plan` for `version` of the job `spec` names.
    pub fn versioned(spec: JobSpec, version: u32, plan: Plan) -> Self {
        JobRun {
            id: new_job_id(&spec.job),
            spec,
            plan,
            version,
        }
    }

    /// `name@version`: the [fingerprint](crate::fingerprint) of the job
    /// this runs, which routes its tasks to workers that hold it.
    pub fn fingerprint(&self) -> String {
        crate::job::fingerprint_of(&self.spec.job, self.version)
    }
}

/// What a job returns: the result blobs of its last stage, by partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// Run id.
    pub job_id: String,
    /// The last stage's result blobs.
    pub results: Vec<Bytes>,
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

/// Looks up `spec.job`, prepares and plans it on this (driver) node, and
/// runs it on `executor`.
pub fn run_job(
    executor: &dyn Executor,
    registry: &Registry,
    spec: JobSpec,
    progress: &dyn ProgressSink,
) -> Result<JobOutput, JobError> {
    let job = registry.get(&spec.job)?;
    let params = job.prepare(spec.params)?;
    let plan = job.plan(&params)?;
    plan.validate(job.name())?;
    let run = JobRun::versioned(
        JobSpec {
            job: spec.job,
            params,
        },
        job.version(),
        plan,
    );
    executor.execute(&run, progress)
}
