//! `column-stats`: a low-level [`Job`] with two stages and a hash shuffle.
//!
//! ```text
//! custom-job run column-stats --params '{"inputs": ["sales/"], "key": "region", "value": "amount"}'
//! {"rows":5,"rejected":1,"keys":{"east":{"count":3,"sum":42,"min":2,"max":30},"west":{…}}}
//! ```
//!
//! Over CSV files with a header: per distinct value of the `key` column
//! (keys in byte order), the count, sum, min and max of the numbers in the
//! `value` column — integers stay integers. `rows` counts the rows that
//! made it in; a row whose value is not a number is skipped and counted
//! in `rejected`, and the first few are shown on stderr with `file:line`.
//!
//! ```text
//!  prepare (driver)   list the files, check both columns are in every header
//!  scan    (1/file)   parse rows, sum per key ── bucket stable_hash(key) % P ──┐
//!  combine (P tasks)  merge each key's partials, in map order  ◀──────────────┘
//!  finish  (driver)   the P sorted partitions → one JSON object, rejects → stderr
//! ```

mod scan;
mod stats;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shoal::serde_json::{self, Value};
use shoal::store::inputs::expand_inputs;
use shoal::{Bytes, Job, JobError, OutputFormat, Plan, Stage, StageRef, TaskContext, TaskError};

use scan::{Line, Rejects, MAX_SAMPLES};
pub use stats::{KeyStats, Num};

const NAME: &str = "column-stats";

/// The parameters of `column-stats`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    /// CSV files, directories or globs (local or store URLs).
    pub inputs: Vec<String>,
    /// The column to group by.
    pub key: String,
    /// The numeric column to sum up.
    pub value: String,
    /// Partitions of the combine stage (the output does not depend on it).
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// The input files, listed once by `prepare` on the driver so every
    /// node plans from the same list.
    #[serde(default)]
    pub files: Vec<String>,
}

fn default_partitions() -> u32 {
    8
}

/// The job's result.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ColumnStatsResult {
    /// Rows counted (those with a number in the value column).
    pub rows: u64,
    /// Rows skipped because their value is not a number (or the row is
    /// malformed).
    pub rejected: u64,
    /// Per key, in byte order.
    pub keys: BTreeMap<String, KeyStats>,
}

/// What one combine task hands to `finish`: its keys, sorted, and the
/// rejected rows that came with them (all in partition 0).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Partial {
    keys: Vec<(String, KeyStats)>,
    rejects: Rejects,
}

/// Per-key statistics of a numeric CSV column.
pub struct ColumnStats;

fn invalid(message: impl std::fmt::Display) -> JobError {
    JobError::invalid_input(NAME, message)
}

fn params_of(params: &Value) -> Result<Params, JobError> {
    Params::deserialize(params).map_err(|e| invalid(format!("bad {NAME} parameters: {e}")))
}

impl Job for ColumnStats {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "count, sum, min, max of a numeric CSV column per key (params: inputs, key, value)"
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    /// On the driver, before any task: list the files and check their
    /// headers, so a wrong column name fails at once (exit 2) naming it.
    fn prepare(&self, params: Value) -> Result<Value, JobError> {
        let mut p = params_of(&params)?;
        if p.partitions == 0 {
            return Err(invalid("partitions must be at least 1"));
        }
        let files = expand_inputs(&p.inputs).map_err(invalid)?;
        p.files = files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        if p.files.is_empty() {
            return Err(invalid(format!(
                "no input files in {}",
                p.inputs.join(", ")
            )));
        }
        for file in &p.files {
            let headers = scan::open(file)
                .and_then(|mut r| {
                    r.headers()
                        .cloned()
                        .map_err(|e| TaskError::input(format!("{file}: {e}")))
                })
                .map_err(|e| invalid(e.chain()))?;
            for column in [&p.key, &p.value] {
                scan::column_index(file, &headers, column).map_err(invalid)?;
            }
        }
        serde_json::to_value(&p).map_err(|e| invalid(format!("encoding parameters: {e}")))
    }

    fn plan(&self, params: &Value) -> Result<Plan, JobError> {
        let Params {
            key,
            value,
            partitions,
            files,
            ..
        } = params_of(params)?;
        let mut plan = Plan::new();
        let scan = plan.add_stage(
            Stage::new("scan", files.len() as u32, move |ctx| {
                scan::scan(ctx, &files[ctx.partition() as usize], &key, &value)
            })
            .shuffle_output(partitions),
        );
        plan.add_stage(
            Stage::new("combine", partitions, move |ctx| combine(ctx, scan)).reads(scan),
        );
        Ok(plan)
    }

    /// On the driver: the combine partitions hold disjoint keys, so their
    /// union in a sorted map is the answer.
    fn finish(&self, _params: &Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let corrupt = |e: serde_json::Error| JobError::Finish {
            job: NAME.into(),
            message: format!("a combine result does not decode: {e}"),
        };
        let mut out = ColumnStatsResult::default();
        for blob in results {
            let partial: Partial = serde_json::from_slice(blob).map_err(corrupt)?;
            out.rows += partial.keys.iter().map(|(_, s)| s.count).sum::<u64>();
            out.keys.extend(partial.keys);
            out.rejected += partial.rejects.count;
            report_rejects(&partial.rejects);
        }
        let mut json = serde_json::to_vec(&out).map_err(corrupt)?;
        json.push(b'\n');
        Ok(Bytes::from(json))
    }
}

/// Stage 2: merges the partials of this partition's keys, scan task by
/// scan task (so float sums are added in the same order on every run);
/// partition 0 also adds up the rejected rows.
fn combine(ctx: &mut TaskContext<'_>, scan: StageRef) -> Result<(), TaskError> {
    let corrupt = |e: serde_json::Error| TaskError::fatal(format!("corrupt scan output: {e}"));
    let mut keys: BTreeMap<String, KeyStats> = BTreeMap::new();
    let mut rejects = Rejects::default();
    for block in ctx.shuffle_input(scan)?.iter_bytes() {
        for line in block?.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice(line).map_err(corrupt)? {
                Line::Key(key, stats) => match keys.get_mut(&key) {
                    Some(total) => total.merge(stats),
                    None => {
                        keys.insert(key, stats);
                    }
                },
                Line::Rejects(more) => {
                    rejects.count += more.count;
                    let room = MAX_SAMPLES - rejects.samples.len();
                    rejects.samples.extend(more.samples.into_iter().take(room));
                }
            }
        }
    }
    let partial = Partial {
        keys: keys.into_iter().collect(),
        rejects,
    };
    let blob =
        serde_json::to_vec(&partial).map_err(|e| TaskError::fatal(format!("encoding: {e}")))?;
    ctx.set_result(Bytes::from(blob));
    Ok(())
}

/// The first rejected rows and how many there were, on stderr — never in
/// the result.
fn report_rejects(rejects: &Rejects) {
    if rejects.count == 0 {
        return;
    }
    let program = shoal::cli::program_name();
    for sample in &rejects.samples {
        eprintln!("{program}: rejected {sample}");
    }
    eprintln!("{program}: {} bad rows skipped", rejects.count);
}
