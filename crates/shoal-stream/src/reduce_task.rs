//! A reduce task: its bucket of every map task — each already sorted by
//! key — merged (stable: equal keys keep map-task order, which is input
//! order) and fed to the reducer; the reducer's output is a part file.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use shoal_core::extsort::{merge_sorted, BatchSource, Compare};
use shoal_core::{Block, BlockChunks, StageRef, TaskContext, TaskError};

use crate::job::TaskReport;
use crate::process::{self, Limits, Program};
use crate::record::{decode_records, take_report, Record, RecordCodec};
use crate::task::{absorb, count, deadline, environment, feed_sorted, into_file};
use crate::taskdir::TaskDir;
use crate::{output, MapParams};

/// Records handed on per batch.
const BATCH: usize = 8192;

/// Runs reduce task `ctx.partition()` over the output of stage `map`.
pub(crate) fn run(
    ctx: &mut TaskContext<'_>,
    params: &MapParams,
    map: StageRef,
) -> Result<(), TaskError> {
    let started = Instant::now();
    let index = ctx.partition();
    let id = ctx.id();
    let dir = TaskDir::create(ctx.spill_space().dir(), &id, &params.ship)?;
    let input = ctx.shuffle_input(map)?;
    let input_bytes = input.len();
    // Read frames the size the external sort's own runs use.
    let frame = (ctx.memory().pool().task_floor() / 8).clamp(4096, 256 << 10) as usize;
    let map_reports = Arc::new(Mutex::new(Vec::new()));
    let sources: Vec<Box<dyn BatchSource<Record>>> = input
        .into_blocks()
        .into_iter()
        .filter(|block| !block.is_empty())
        .map(|block| {
            Box::new(BlockRecords::new(&block, frame as u64, map_reports.clone()))
                as Box<dyn BatchSource<Record>>
        })
        .collect();
    let compare: Compare<Record> = Arc::new(Record::cmp_keys);
    let codec = RecordCodec {
        separator: params.keys.separator.as_bytes().to_vec(),
    };
    let merged = merge_sorted(
        sources,
        compare,
        codec,
        ctx.memory(),
        ctx.spill_space(),
        BATCH,
        frame,
    )?;
    let env = environment(&id, "reduce", None, params);
    let command = params.reducer.as_deref().unwrap_or("cat");
    let program = Program {
        role: "reducer",
        command,
        dir: dir.path(),
        env: &env,
    };
    let fed = AtomicU64::new(0);
    let out = dir.output_path();
    let mut report = TaskReport::default();
    {
        let is_cancelled = || ctx.is_cancelled();
        let limits = Limits {
            deadline: deadline(params, started),
            timeout: params.task_timeout,
            cancelled: &is_cancelled,
        };
        let separator = params.keys.separator.as_bytes();
        let ran = process::run(
            &program,
            &limits,
            feed_sorted(merged, separator, &fed),
            into_file(&out),
        )?;
        count(&mut report, "reduce_output_records", ran.output);
        absorb(&mut report, ran.stderr);
    }
    let records = fed.into_inner();
    count(&mut report, "reduce_input_records", records);
    // The driver sums the last stage's reports only: reduce task 0 carries
    // the map tasks' (one committed attempt's each), found at the head of
    // their bucket 0.
    for blob in map_reports.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let map_report: TaskReport = serde_json::from_slice(blob)
            .map_err(|e| TaskError::fatal(format!("a map task's report does not decode: {e}")))?;
        report.counters.merge(&map_report.counters);
    }
    output::commit_part(&params.out, index, &out)?;
    ctx.add_progress(records, input_bytes);
    ctx.set_result(report.to_blob()?);
    Ok(())
}

/// The sorted records of one shuffle block, decoded a frame at a time as
/// slices of the bytes read (a record cut by a frame's end is completed
/// from the next).
/// A block that starts a map task's bucket 0 starts with the task's
/// report, which goes to `reports` instead.
struct BlockRecords {
    chunks: BlockChunks,
    /// Bytes read and not yet decoded.
    pending: Bytes,
    /// Whether the block's head was looked at for a report.
    head_seen: bool,
    reports: Arc<Mutex<Vec<Bytes>>>,
}

impl BlockRecords {
    fn new(block: &Block, frame: u64, reports: Arc<Mutex<Vec<Bytes>>>) -> Self {
        BlockRecords {
            chunks: block.chunks(frame),
            pending: Bytes::new(),
            head_seen: false,
            reports,
        }
    }
}

impl BatchSource<Record> for BlockRecords {
    fn next_batch(&mut self) -> Result<Option<Vec<Record>>, TaskError> {
        let corrupt = |e: String| TaskError::fatal(format!("corrupt shuffle block: {e}"));
        loop {
            if !self.head_seen && !self.pending.is_empty() {
                // Reports are written whole and first, so a frame holds one.
                self.head_seen = true;
                if let Some((report, used)) = take_report(&self.pending).map_err(corrupt)? {
                    self.reports
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(report);
                    self.pending = self.pending.slice(used..);
                }
            }
            let mut batch = Vec::new();
            let used = decode_records(&self.pending, BATCH, &mut batch).map_err(corrupt)?;
            self.pending = self.pending.slice(used..);
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
            let Some(chunk) = self.chunks.next() else {
                if !self.pending.is_empty() {
                    return Err(corrupt(format!(
                        "{} bytes after the last whole record",
                        self.pending.len()
                    )));
                }
                return Ok(None);
            };
            let chunk = chunk?;
            self.pending = if self.pending.is_empty() {
                chunk
            } else {
                let mut joined = BytesMut::with_capacity(self.pending.len() + chunk.len());
                joined.extend_from_slice(&self.pending);
                joined.extend_from_slice(&chunk);
                joined.freeze()
            };
        }
    }
}
