//! The `map` job: stages, and what the driver does before and after.
//!
//! ```text
//! map-only:   map (1 task per split) ──▶ part-NNNNN per map task
//! with reduce:
//!   map (1 task per split)                   reduce (R tasks)
//!   mapper ─▶ sort by key ─▶ [combiner ─▶ sort] ─▶ bucket hash(key) % R ──▶ merge ─▶ reducer ─▶ part-NNNNN
//! ```
//!
//! Every task's result blob is its [`TaskReport`] (counters and status);
//! the executor commits it first-commit-wins like any result, so the
//! driver sums the counters of exactly one attempt per task.

use serde::{Deserialize, Serialize};
use shoal_core::{Bytes, Job, JobError, OutputFormat, Plan, Stage, TaskError};

use crate::{map_task, output, reduce_task, Counters, MapParams};

/// The registry name of the job behind `shoal map`.
pub const JOB_NAME: &str = "map";

/// What one task hands back: its programs' counters and last status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Reporter counters plus Shoal's own record counts.
    pub counters: Counters,
    /// The last `reporter:status:` line.
    #[serde(default)]
    pub status: Option<String>,
}

impl TaskReport {
    pub(crate) fn to_blob(&self) -> Result<Bytes, TaskError> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|e| TaskError::fatal(format!("encoding the task report: {e}")))
    }
}

/// What the job returns (as JSON): where the output is, how many parts,
/// and the counters summed over the committed attempt of every task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapOutcome {
    /// The `--out` URL.
    pub out: String,
    /// How many `part-NNNNN` files it holds.
    pub parts: u32,
    /// Counters by group and name.
    pub counters: Counters,
}

/// Runs any program as map and reduce tasks (Hadoop Streaming's contract).
///
/// A cluster worker offers it only when started with `--allow-exec`: the
/// job runs whatever command its parameters name.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamJob;

fn params_of(params: &serde_json::Value) -> Result<MapParams, JobError> {
    serde_json::from_value(params.clone())
        .map_err(|e| JobError::invalid_input(JOB_NAME, format!("bad parameters: {e}")))
}

impl Job for StreamJob {
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn describe(&self) -> &'static str {
        "run any program as map and reduce tasks (Hadoop Streaming's contract)"
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    fn prepare(&self, params: serde_json::Value) -> Result<serde_json::Value, JobError> {
        let mut params = params_of(&params)?;
        params.validate()?;
        params.plan_splits()?;
        output::prepare(&params.out, params.overwrite)?;
        params.absolutize();
        serde_json::to_value(params).map_err(|e| JobError::Setup {
            job: JOB_NAME.into(),
            message: e.to_string(),
        })
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let params = std::sync::Arc::new(params_of(params)?);
        let mut plan = Plan::new();
        let map_tasks = params.splits.len() as u32;
        let mapper = params.clone();
        let mut map = Stage::new("map", map_tasks, move |ctx| map_task::run(ctx, &mapper));
        if !params.has_reduce() {
            plan.add_stage(map);
            return Ok(plan);
        }
        map = map.shuffle_output(params.reducers);
        let map = plan.add_stage(map);
        let reducer = params.clone();
        plan.add_stage(
            Stage::new("reduce", params.reducers, move |ctx| {
                reduce_task::run(ctx, &reducer, map)
            })
            .reads(map),
        );
        Ok(plan)
    }

    fn finish(&self, params: &serde_json::Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let params = params_of(params)?;
        let mut outcome = MapOutcome {
            out: params.out.clone(),
            parts: results.len() as u32,
            counters: Counters::new(),
        };
        for blob in results {
            let report: TaskReport =
                serde_json::from_slice(blob).map_err(|e| JobError::Executor {
                    message: format!("a task report does not decode: {e}"),
                })?;
            outcome.counters.merge(&report.counters);
        }
        output::mark_success(&params.out)?;
        serde_json::to_vec(&outcome)
            .map(Bytes::from)
            .map_err(|e| JobError::Executor {
                message: format!("encoding the outcome: {e}"),
            })
    }
}
