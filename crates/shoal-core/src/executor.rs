//! The executor trait and the driver-side entry point.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::stats::{peak_rss_bytes, StatsRecorder};
use crate::{Job, JobError, JobSpec, JobStats, OutputFormat, Plan, ProgressSink, Registry};

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

/// A fresh run id for `job`: the job name plus a value unique across
/// processes and time. A driver that must name a run's store objects before
/// the run starts (files it uploads under the job's prefix, so they are
/// cleaned up with it) takes one here and runs with [`run_job_as`].
pub fn new_job_id(job: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 40);
    format!("{job}-{mixed:x}")
}

/// Looks up `spec.job`, prepares and plans it on this (driver) node, runs
/// it on `executor` — twice when [`Job::review`] asks for a corrected run —
/// and finishes it ([`Job::finish`], once, here): the output carries the
/// stage results, the job's result and the statistics of every run.
pub fn run_job(
    executor: &dyn Executor,
    registry: &Registry,
    spec: JobSpec,
    progress: &dyn ProgressSink,
) -> Result<JobOutput, JobError> {
    run_job_as(executor, registry, spec, None, progress)
}

/// [`run_job`], its (first) run under `id` when given (from
/// [`new_job_id`]). A corrected run ([`Job::review`]) gets a fresh id:
/// what was put under the first run's prefix is gone with it by then.
pub fn run_job_as(
    executor: &dyn Executor,
    registry: &Registry,
    spec: JobSpec,
    id: Option<String>,
    progress: &dyn ProgressSink,
) -> Result<JobOutput, JobError> {
    let started = Instant::now();
    let job = registry.get(&spec.job)?;
    let params = job.prepare(spec.params)?;
    let (mut run, mut output) = run_planned(
        executor,
        job.as_ref(),
        (&spec.job, id),
        params,
        progress,
        started,
    )?;
    if let Some(corrected) = job.review(&run.spec.params, &output.results)? {
        let first = output.stats;
        (run, output) = run_planned(
            executor,
            job.as_ref(),
            (&spec.job, None),
            corrected,
            progress,
            Instant::now(),
        )?;
        output.stats.absorb_earlier_run(first);
    }
    let finishing = Instant::now();
    output.result = job.finish(&run.spec.params, &output.results)?;
    output.format = job.output_format();
    let stats = &mut output.stats;
    stats.job = run.spec.job.clone();
    stats.job_id = output.job_id.clone();
    stats.finish = finishing.elapsed();
    stats.wall = started.elapsed();
    stats.peak_rss_bytes = peak_rss_bytes();
    Ok(output)
}

/// Plans `job` from prepared `params` and runs it; the statistics count
/// planning from `planning_started` and the stages of this run. The run
/// is `name`'s, under the id given or a fresh one.
fn run_planned(
    executor: &dyn Executor,
    job: &dyn Job,
    (name, id): (&str, Option<String>),
    params: serde_json::Value,
    progress: &dyn ProgressSink,
    planning_started: Instant,
) -> Result<(JobRun, JobOutput), JobError> {
    let plan = job.plan(&params)?;
    plan.validate(job.name())?;
    let planning = planning_started.elapsed();
    let names = plan.stages().iter().map(|s| s.name().to_string()).collect();
    let recorder = StatsRecorder::new(names, progress);
    let mut run = JobRun::versioned(
        JobSpec {
            job: name.to_string(),
            params,
        },
        job.version(),
        plan,
    );
    if let Some(id) = id {
        run.id = id;
    }
    let mut output = executor.execute(&run, &recorder)?;
    let recorded = recorder.stats();
    output.stats.set_stages(recorded.stages);
    output.stats.memory = output.stats.memory.or(recorded.memory);
    output.stats.planning = planning;
    output.stats.runs = 1;
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

    #[test]
    fn a_reviewed_run_counts_both_runs_and_finishes_once() {
        let registry = Registry::new().with(Arc::new(Guessing));
        let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
        let spec = JobSpec::new("guessing", json!({ "guess": 7 }));
        let output = run_job(&executor, &registry, spec, &NoProgress).unwrap();
        assert_eq!(&output.result[..], b"42\n");
        assert_eq!((output.stats.runs, output.stats.tasks), (2, 2));
        assert_eq!(output.stats.stages.len(), 2);
    }
}
