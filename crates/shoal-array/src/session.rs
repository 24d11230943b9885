//! Sessions run actions; registered array jobs make pipelines rebuildable.
//!
//! A [`Session`] holds an executor. Transformations only describe work;
//! an action (`collect`, `sum`, `save`, ...) turns the description into a
//! [`shoal_core::Plan`], wrapped with the driver-side code that decodes its
//! results into an [`Action`], and runs it on the session's executor.
//!
//! Closures cannot travel to other machines. An embedded session runs any
//! pipeline ("inline"). On a cluster, a worker must rebuild the plan from a
//! job name and JSON parameters, so the pipeline is written inside an
//! [`ArrayJob`], registered on every node through [`AsJob`], and run with
//! [`Session::run_job`]: the driver and every worker call the same
//! [`ArrayJob::build`] with the same parameters and get the same stages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use shoal_core::{
    Bytes, EmbeddedConfig, EmbeddedExecutor, Executor, Job, JobError, JobRun, JobSpec, NoProgress,
    OutputFormat, Plan, ProgressSink,
};

use crate::ArrayError;

/// A planned action: the plan to run and the driver-side code that turns
/// the last stage's result blobs into the answer.
pub struct Action<R> {
    name: &'static str,
    plan: Plan,
    finish: Box<dyn FnOnce(Vec<Bytes>) -> Result<R, ArrayError> + Send>,
}

impl<R: 'static> Action<R> {
    pub(crate) fn new(
        name: &'static str,
        plan: Plan,
        finish: impl FnOnce(Vec<Bytes>) -> Result<R, ArrayError> + Send + 'static,
    ) -> Self {
        Action {
            name,
            plan,
            finish: Box::new(finish),
        }
    }

    /// The action's name, e.g. `collect`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The stages the action runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Takes the plan (what [`AsJob`] hands to workers).
    pub fn into_plan(self) -> Plan {
        self.plan
    }

    /// Post-processes the answer on the driver.
    pub fn map<S: 'static>(self, f: impl FnOnce(R) -> S + Send + 'static) -> Action<S> {
        let finish = self.finish;
        Action::new(self.name, self.plan, move |results| finish(results).map(f))
    }

    /// Turns the result blobs of a run of [`Action::plan`] into the answer.
    pub fn finish(self, results: Vec<Bytes>) -> Result<R, ArrayError> {
        (self.finish)(results)
    }
}

/// Whether a session may run inline pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Embedded: any pipeline runs; the job spec is never used to rebuild.
    Inline,
    /// Cluster: only registered array jobs run ([`Session::run_job`]).
    RegisteredOnly,
    /// Inside `ArrayJob::build` on a worker: nothing runs.
    Planning,
}

struct Inner {
    executor: Arc<dyn Executor + Send + Sync>,
    progress: Arc<dyn ProgressSink>,
    mode: Mode,
    scratch_url: String,
}

/// Runs DistArray actions on an executor: the embedded executor by
/// default, or any [`Executor`] such as the cluster executor. Cheap to
/// clone; every array keeps the session it was made in.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.inner.mode)
            .field("scratch_url", &self.inner.scratch_url)
            .finish()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::embedded()
    }
}

/// A scratch location unique to this process and session, for `cache()`.
fn memory_scratch() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "memory://shoal-array-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Session {
    /// An embedded session on every core with the default memory budget.
    pub fn embedded() -> Session {
        Session::with_config(EmbeddedConfig::default())
    }

    /// An embedded session with `config` (threads, memory budget, spill URL).
    pub fn with_config(config: EmbeddedConfig) -> Session {
        Session::build(
            Arc::new(EmbeddedExecutor::new(config)),
            Mode::Inline,
            memory_scratch(),
        )
    }

    /// A session on a remote executor (a cluster). Only registered array
    /// jobs run on it ([`Session::run_job`]); `scratch_url` must be a store
    /// every node can reach, and is where `cache()` materialises arrays.
    pub fn remote(executor: Arc<dyn Executor + Send + Sync>, scratch_url: &str) -> Session {
        Session::build(executor, Mode::RegisteredOnly, scratch_url.to_string())
    }

    /// A session that builds plans but never runs them: what
    /// [`AsJob`] passes to [`ArrayJob::build`] on workers.
    pub fn planning() -> Session {
        Session::build(
            Arc::new(EmbeddedExecutor::new(EmbeddedConfig {
                threads: 1,
                ..EmbeddedConfig::default()
            })),
            Mode::Planning,
            memory_scratch(),
        )
    }

    fn build(executor: Arc<dyn Executor + Send + Sync>, mode: Mode, scratch: String) -> Session {
        Session {
            inner: Arc::new(Inner {
                executor,
                progress: Arc::new(NoProgress),
                mode,
                scratch_url: scratch,
            }),
        }
    }

    /// The same session reporting progress to `progress`.
    pub fn with_progress(&self, progress: Arc<dyn ProgressSink>) -> Session {
        Session {
            inner: Arc::new(Inner {
                executor: self.inner.executor.clone(),
                progress,
                mode: self.inner.mode,
                scratch_url: self.inner.scratch_url.clone(),
            }),
        }
    }

    /// A fresh store URL below the scratch location, for `cache()`.
    pub(crate) fn scratch_url(&self) -> String {
        // Process-wide, so sessions sharing a scratch root never collide.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{}/cache-{n}", self.inner.scratch_url.trim_end_matches('/'))
    }

    /// Runs an inline action and returns its answer.
    pub fn execute<R: 'static>(&self, action: Action<R>) -> Result<R, ArrayError> {
        let why = match self.inner.mode {
            Mode::Inline => None,
            Mode::RegisteredOnly => {
                Some("runs on a cluster: write the pipeline in an ArrayJob and use run_job")
            }
            Mode::Planning => Some("only plans (inside ArrayJob::build)"),
        };
        if let Some(why) = why {
            return Err(ArrayError::NotRunnable {
                action: action.name,
                why,
            });
        }
        let spec = JobSpec::new("shoal-array", serde_json::json!({ "action": action.name }));
        self.run(spec, action)
    }

    /// Runs registered array job `job` with `params`. On a cluster every
    /// worker rebuilds the same plan from `job`'s name and `params`
    /// (the job must be registered there through [`AsJob`]).
    pub fn run_job<J: ArrayJob>(
        &self,
        job: &J,
        params: serde_json::Value,
    ) -> Result<J::Output, ArrayError> {
        let action = job.build(self, &params)?;
        self.run(JobSpec::new(job.name(), params), action)
    }

    fn run<R: 'static>(&self, spec: JobSpec, action: Action<R>) -> Result<R, ArrayError> {
        let name = action.name;
        action
            .plan
            .validate(&spec.job)
            .map_err(|e| ArrayError::job(name, e))?;
        let Action { plan, finish, .. } = action;
        let run = JobRun::new(spec, plan);
        let output = self
            .inner
            .executor
            .execute(&run, self.inner.progress.as_ref())
            .map_err(|e| ArrayError::job(name, e))?;
        finish(output.results)
    }
}

/// A DistArray pipeline that any node can rebuild from its name and JSON
/// parameters. Register it everywhere with [`AsJob`]; run it with
/// [`Session::run_job`].
pub trait ArrayJob: Send + Sync + 'static {
    /// What the action returns on the driver. Serialisable: run through
    /// the [`Job`] trait ([`AsJob`]; `shoal run`, a cluster driver), it is
    /// the job's result as JSON.
    type Output: Serialize + 'static;

    /// The registry name.
    fn name(&self) -> &'static str;

    /// One line for `shoal jobs`.
    fn describe(&self) -> &'static str;

    /// Builds the pipeline and its final action. Must be deterministic and
    /// must not run anything (no `collect`, `len` of unknown lengths,
    /// `cache`): workers call it with a planning session that cannot run.
    fn build(
        &self,
        session: &Session,
        params: &serde_json::Value,
    ) -> Result<Action<Self::Output>, ArrayError>;
}

/// Adapts an [`ArrayJob`] to a runtime [`Job`], for registries.
///
/// Planning rebuilds the pipeline ([`ArrayJob::build`]) and keeps its plan;
/// finishing, on the driver, rebuilds it once more and runs the action's
/// driver-side step on the last stage's results — so an action that saves
/// writes its manifest — and returns the action's answer as one line of
/// JSON. Embedded and on a cluster alike, that line is the job's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsJob<J>(pub J);

impl<J: ArrayJob> AsJob<J> {
    /// The pipeline for `params`, built by a session that cannot run.
    fn action(&self, params: &serde_json::Value) -> Result<Action<J::Output>, JobError> {
        self.0
            .build(&Session::planning(), params)
            .map_err(|e| self.job_error(e, |job, message| JobError::Setup { job, message }))
    }

    /// `e` as a [`JobError`]: bad input as such, any other failure as
    /// `other(job, message)`.
    fn job_error(&self, e: ArrayError, other: impl FnOnce(String, String) -> JobError) -> JobError {
        if e.is_user_input() {
            return JobError::invalid_input(self.0.name(), e);
        }
        other(self.0.name().to_string(), e.to_string())
    }
}

impl<J: ArrayJob> Job for AsJob<J> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn describe(&self) -> &'static str {
        self.0.describe()
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        self.action(params).map(Action::into_plan)
    }

    fn finish(&self, params: &serde_json::Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let finish_error = |job, message| JobError::Finish { job, message };
        let answer = self
            .action(params)?
            .finish(results.to_vec())
            .map_err(|e| self.job_error(e, finish_error))?;
        let mut json = serde_json::to_vec(&answer).map_err(|e| {
            let message = format!("the answer does not encode as JSON: {e}");
            finish_error(self.0.name().to_string(), message)
        })?;
        json.push(b'\n');
        Ok(Bytes::from(json))
    }
}
