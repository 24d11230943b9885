//! The `analyze` job: the report as a plan of stages on the Shoal runtime.
//!
//! - `prepare` (driver, once): validates the settings, expands the inputs
//!   into concrete [`Split`]s and picks the user-partition count P, so every
//!   node plans from identical params.
//! - stage **read** (one task per split): parses rows and routes each to
//!   bucket `partition_of(user_id, P)` (`shoal_core::route`, FNV-1a); rejected-row statistics travel as
//!   one extra entry in bucket 0 (a stage has buckets or results, not both,
//!   and the statistics are tiny).
//! - stage **users** (P tasks): decodes its buckets, applies every
//!   definition per user and emits a [`Partial`](crate::partial::Partial).
//!   Its item counts go by item name to the "items" tasks, the rest of it
//!   to items task 0 ([`crate::items`]).
//! - stage **items** (up to 32 tasks): sums the counts of its items and
//!   keeps its top N; task 0 passes the rest of the partials on.
//! - stage **merge** (1 task): sums the partials and the top candidates
//!   into the [`Report`] and the first rejected rows: an [`AnalyzeOutput`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shoal_core::route::partition_of;
use shoal_core::{
    Bytes, Job, JobError, OutputFormat, Plan, Stage, StageRef, TaskContext, TaskError,
    TaskErrorKind,
};
use shoal_events::{
    plan_chunks, read_split, settle_quote_states, Event, Format, InputError, ReadOptions, Split,
};

use crate::config::AnalyzeConfig;
use crate::index::PartitionIndex;
use crate::items::{item_partitions, merge_items, partials_of, write_buckets, ItemsOutput};
use crate::partial::Merger;
use crate::reads::settle_reads;
use crate::record::{push_stats, BlockEncoder, ReadStats, RejectSample};
use crate::report::Report;
use crate::walk::walk_partition;

/// Registry name of the job.
pub const JOB_NAME: &str = "analyze";

/// Target bytes per read split: big enough to amortise task overhead,
/// small enough to balance two cores on a few hundred MB.
pub const SPLIT_BYTES: u64 = 32 << 20;

/// Target input bytes per user partition. Partitions stay this small as
/// input grows (more partitions, not bigger ones), which is what keeps
/// memory flat: a "users" task holds one partition at a time.
pub const PARTITION_BYTES: u64 = 24 << 20;

/// Fewest user partitions: enough tasks to keep several cores busy.
pub const MIN_PARTITIONS: u32 = 8;

/// Most user partitions.
pub const MAX_PARTITIONS: u32 = 8192;

/// Rows between progress reports of a read task.
const PROGRESS_ROWS: u64 = 1 << 16;

/// The job's parameters. Users fill `inputs`, `read` and `config`;
/// `prepare` fills `splits` and `partitions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeParams {
    /// Files, directories, globs or URLs.
    pub inputs: Vec<String>,
    /// Format, columns, timestamp unit, strictness.
    #[serde(default)]
    pub read: ReadOptions,
    /// Report settings.
    #[serde(default)]
    pub config: AnalyzeConfig,
    /// Concrete splits (set by `prepare`).
    #[serde(default)]
    pub splits: Vec<Split>,
    /// User partitions P; chosen from the input size when absent.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Fewest user partitions when P is chosen from the input size
    /// (callers pass about 2 × threads so every core has work).
    #[serde(default)]
    pub min_partitions: Option<u32>,
    /// Target bytes per read split; [`SPLIT_BYTES`] when absent (tests
    /// cut small files into many chunks with it).
    #[serde(default)]
    pub split_bytes: Option<u64>,
}

/// The job's final result blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOutput {
    /// The report.
    pub report: Report,
    /// The first rejected rows (file:line and reason), in input order.
    pub rejects: Vec<RejectSample>,
    /// Present only when a reader guessed the CSV quote state at a chunk's
    /// start wrong: the true state at every split's start. The report is
    /// then not the input's; the driver runs the job again with these
    /// states known (`review`), so a finished run never shows this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_states: Option<Vec<bool>>,
}

impl AnalyzeOutput {
    /// Decodes the job's result blob.
    pub fn from_bytes(bytes: &[u8]) -> Result<AnalyzeOutput, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The user-behaviour report job (issue 3).
#[derive(Debug, Default, Clone, Copy)]
pub struct AnalyzeJob;

fn invalid(message: impl std::fmt::Display) -> JobError {
    JobError::invalid_input(JOB_NAME, message)
}

fn params_of(value: &serde_json::Value) -> Result<AnalyzeParams, JobError> {
    AnalyzeParams::deserialize(value).map_err(|e| invalid(format!("bad analyze parameters: {e}")))
}

/// User partitions for `splits`: compressed text and Parquet count extra,
/// since they expand several times when decoded.
pub fn choose_partitions(splits: &[Split]) -> u32 {
    let bytes: u64 = splits
        .iter()
        .map(|s| {
            let compressed =
                s.format == Format::Parquet || s.compression != shoal_events::Compression::None;
            s.size_bytes.saturating_mul(if compressed { 4 } else { 1 })
        })
        .sum();
    let wanted = bytes.div_ceil(PARTITION_BYTES);
    (wanted.min(u64::from(MAX_PARTITIONS)) as u32).max(MIN_PARTITIONS)
}

impl Job for AnalyzeJob {
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn describe(&self) -> &'static str {
        "user-behaviour report of clickstream logs: sessions, funnel, retention, top items"
    }

    /// 2: text inputs are chunks cut at byte offsets, placed in the merge.
    /// 3: item counts are summed by the "items" stage, not the merge.
    fn version(&self) -> u32 {
        3
    }

    fn prepare(&self, params: serde_json::Value) -> Result<serde_json::Value, JobError> {
        let mut p = params_of(&params)?;
        p.config.validate().map_err(invalid)?;
        if p.inputs.is_empty() {
            return Err(invalid("no input files given"));
        }
        let split_bytes = p.split_bytes.unwrap_or(SPLIT_BYTES);
        p.splits = plan_chunks(&p.inputs, &p.read, split_bytes).map_err(|e| {
            if e.is_user_input() {
                invalid(&e)
            } else {
                JobError::Setup {
                    job: JOB_NAME.into(),
                    message: e.to_string(),
                }
            }
        })?;
        let min = p.min_partitions.unwrap_or(MIN_PARTITIONS);
        let partitions = p
            .partitions
            .unwrap_or_else(|| choose_partitions(&p.splits).max(min));
        p.partitions = Some(partitions.clamp(1, MAX_PARTITIONS));
        serde_json::to_value(&p).map_err(|e| invalid(format!("analyze parameters: {e}")))
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::Json
    }

    /// The report as JSON (the rejected-row samples stay in the stage
    /// result, for front ends that show them on stderr).
    fn finish(&self, _params: &serde_json::Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let blob = results.first().cloned().unwrap_or_default();
        let output = AnalyzeOutput::from_bytes(&blob).map_err(|e| JobError::Finish {
            job: JOB_NAME.into(),
            message: format!("the merge stage's result does not decode: {e}"),
        })?;
        Ok(Bytes::from(output.report.to_json()))
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        let p = Arc::new(params_of(params)?);
        p.config.validate().map_err(invalid)?;
        let partitions = p
            .partitions
            .unwrap_or(MIN_PARTITIONS)
            .clamp(1, MAX_PARTITIONS);
        let mut plan = Plan::new();
        let splits = p.splits.len().max(1) as u32;
        let read_params = Arc::clone(&p);
        let read = plan.add_stage(
            Stage::new("read", splits, move |ctx| {
                read_task(ctx, &read_params, partitions)
            })
            .shuffle_output(partitions),
        );
        let user_params = Arc::clone(&p);
        let users = plan.add_stage(
            Stage::new("users", partitions, move |ctx| {
                users_task(ctx, read, &user_params.config)
            })
            .reads(read)
            .shuffle_output(item_partitions(partitions)),
        );
        let top = p.config.top as usize;
        let items = plan.add_stage(
            Stage::new("items", item_partitions(partitions), move |ctx| {
                items_task(ctx, users, top)
            })
            .reads(users),
        );
        let merge_params = Arc::clone(&p);
        plan.add_stage(
            Stage::new("merge", 1, move |ctx| merge_task(ctx, items, &merge_params)).reads(items),
        );
        Ok(plan)
    }

    /// A chunk whose reader guessed its CSV quote state wrong read rows
    /// that are not the file's: run again with every state known (the
    /// merge found them), which guesses nothing.
    fn review(
        &self,
        params: &serde_json::Value,
        results: &[Bytes],
    ) -> Result<Option<serde_json::Value>, JobError> {
        let Some(blob) = results.first() else {
            return Ok(None);
        };
        let output = AnalyzeOutput::from_bytes(blob).map_err(|e| JobError::Setup {
            job: JOB_NAME.into(),
            message: format!("decoding the report: {e}"),
        })?;
        let Some(states) = output.quote_states else {
            return Ok(None);
        };
        let mut p = params_of(params)?;
        settle_quote_states(&mut p.splits, &states);
        let params =
            serde_json::to_value(&p).map_err(|e| invalid(format!("analyze parameters: {e}")))?;
        Ok(Some(params))
    }
}

/// Maps a reader error to a task error: bad input is not retried.
fn task_error(split: &Split, err: InputError) -> TaskError {
    let kind = if err.is_user_input() {
        TaskErrorKind::Input
    } else {
        TaskErrorKind::Retryable
    };
    if kind == TaskErrorKind::Input {
        TaskError::input(err.to_string())
    } else {
        TaskError::caused_by(format!("reading {}", split.path.display()), err).with_kind_of(kind)
    }
}

fn read_task(
    ctx: &mut TaskContext<'_>,
    p: &AnalyzeParams,
    partitions: u32,
) -> Result<(), TaskError> {
    let index = ctx.partition();
    // No splits (possible only for hand-written params): one empty task.
    let Some(split) = p.splits.get(index as usize) else {
        return Ok(());
    };
    let mut buckets = vec![Vec::new(); partitions as usize];
    let mut encoder = BlockEncoder::new(partitions);
    let mut pending = 0u64;
    let progress = &*ctx;
    let mut sink = |e: &Event<'_>| {
        let user = e.user_id.as_bytes();
        let b = partition_of(user, partitions);
        let out = &mut buckets[b as usize];
        encoder.push_row(out, b, user, e.ts_ms, e.event.as_bytes(), e.item.as_bytes());
        pending += 1;
        if pending == PROGRESS_ROWS {
            progress.add_progress(pending, 0);
            pending = 0;
        }
    };
    let stats = read_split(split, &p.read, &mut sink).map_err(|e| task_error(split, e))?;
    ctx.add_progress(pending, split.size_bytes);
    if stats.rejected > 0 || stats.chunk.is_some() {
        let read_stats = ReadStats {
            split: index,
            rejected: stats.rejected,
            rejects: stats.rejects,
            chunk: stats.chunk,
        };
        push_stats(&mut buckets[0], &read_stats);
    }
    for (b, bytes) in buckets.into_iter().enumerate() {
        *ctx.bucket(b as u32) = bytes;
    }
    Ok(())
}

fn users_task(
    ctx: &mut TaskContext<'_>,
    read: StageRef,
    config: &AnalyzeConfig,
) -> Result<(), TaskError> {
    let blocks = ctx.shuffle_input(read)?.read_all()?;
    let bytes: u64 = blocks.iter().map(|b| b.len() as u64).sum();
    let index = PartitionIndex::build(&blocks).map_err(|e| {
        TaskError::caused_by("decoding user partition", e).with_kind_of(TaskErrorKind::Fatal)
    })?;
    let partial = walk_partition(&index, config);
    ctx.add_progress(index.rows.len() as u64, bytes);
    drop(index);
    write_buckets(partial, ctx.buckets());
    Ok(())
}

fn items_task(ctx: &mut TaskContext<'_>, users: StageRef, top: usize) -> Result<(), TaskError> {
    let blocks = ctx.shuffle_input(users)?.read_all()?;
    let output = merge_items(&blocks, top).map_err(|e| {
        TaskError::caused_by("merging item counts", e).with_kind_of(TaskErrorKind::Fatal)
    })?;
    ctx.set_result(output.to_bytes());
    Ok(())
}

fn merge_task(
    ctx: &mut TaskContext<'_>,
    items: StageRef,
    p: &AnalyzeParams,
) -> Result<(), TaskError> {
    let fatal = |e| TaskError::caused_by("merging partials", e).with_kind_of(TaskErrorKind::Fatal);
    let outputs = ctx
        .results_of(items)?
        .iter()
        .enumerate()
        .map(|(i, blob)| ItemsOutput::from_bytes(blob, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fatal)?;
    let mut merger = Merger::default();
    for partial in partials_of(outputs).map_err(fatal)? {
        merger.add(partial);
    }
    let reads = settle_reads(&p.splits, &merger.take_reads()).map_err(|e| {
        TaskError::caused_by("placing the read splits", e).with_kind_of(TaskErrorKind::Fatal)
    })?;
    let output = AnalyzeOutput {
        report: merger.finish(&p.config),
        rejects: reads.samples,
        quote_states: reads.quote_states,
    };
    let bytes = serde_json::to_vec(&output).map_err(|e| {
        TaskError::caused_by("encoding the report", e).with_kind_of(TaskErrorKind::Fatal)
    })?;
    ctx.set_result(Bytes::from(bytes));
    ctx.add_progress(1, 0);
    Ok(())
}
