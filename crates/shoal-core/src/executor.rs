//! The executor trait and the driver-side entry point.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::{Job, JobError, JobSpec, Plan, ProgressSink, Registry};

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
/// runs it on `executor` — twice when [`Job::review`] asks for a corrected
/// run.
pub fn run_job(
    executor: &dyn Executor,
    registry: &Registry,
    spec: JobSpec,
    progress: &dyn ProgressSink,
) -> Result<JobOutput, JobError> {
    let job = registry.get(&spec.job)?;
    let params = job.prepare(spec.params)?;
    let (run, output) = run_planned(executor, job.as_ref(), &spec.job, params, progress)?;
    match job.review(&run.spec.params, &output.results)? {
        None => Ok(output),
        Some(corrected) => {
            Ok(run_planned(executor, job.as_ref(), &spec.job, corrected, progress)?.1)
        }
    }
}

/// Plans `job` from prepared `params` and runs it.
fn run_planned(
    executor: &dyn Executor,
    job: &dyn Job,
    name: &str,
    params: serde_json::Value,
    progress: &dyn ProgressSink,
) -> Result<(JobRun, JobOutput), JobError> {
    let plan = job.plan(&params)?;
    plan.validate(job.name())?;
    let run = JobRun::new(
        JobSpec {
            job: name.to_string(),
            params,
        },
        plan,
    );
    let output = executor.execute(&run, progress)?;
    Ok((run, output))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::{EmbeddedConfig, EmbeddedExecutor, NoProgress, Stage};

    /// Results in its guess; its review corrects a wrong guess once.
    struct Guessing;

    impl Job for Guessing {
        fn name(&self) -> &'static str {
            "guessing"
        }

        fn describe(&self) -> &'static str {
            "guesses, then is corrected"
        }

        fn plan(&self, params: &Value) -> Result<Plan, JobError> {
            let guess = params["guess"].as_u64().unwrap_or_default();
            let mut plan = Plan::new();
            plan.add_stage(Stage::new("answer", 1, move |ctx| {
                ctx.set_result(Bytes::from(guess.to_string()));
                Ok(())
            }));
            Ok(plan)
        }

        fn review(&self, _: &Value, results: &[Bytes]) -> Result<Option<Value>, JobError> {
            // Any guess is checked; only 42 stands.
            Ok((results[0] != "42").then(|| json!({"guess": 42})))
        }
    }

    #[test]
    fn a_reviewed_job_runs_once_more_with_corrected_params() {
        let registry = Registry::new().with(Arc::new(Guessing));
        let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
        let run = |guess: u64| {
            let spec = JobSpec::new("guessing", json!({ "guess": guess }));
            run_job(&executor, &registry, spec, &NoProgress)
                .unwrap()
                .results
        };
        assert_eq!(run(7), vec![Bytes::from("42")]);
        assert_eq!(run(42), vec![Bytes::from("42")]);
    }
}
