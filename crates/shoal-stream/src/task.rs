//! What map and reduce tasks share: the environment, limits, and the
//! ways a program's stdin is fed and its stdout taken.

use std::cmp::Ordering as KeyOrder;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use shoal_core::extsort::{ExternalSorter, SortOptions, SortedStream};
use shoal_core::{TaskContext, TaskError, TaskId};

use crate::job::TaskReport;
use crate::process::{PipeReader, PipeWriter, StderrReport};
use crate::record::{LineReader, Record, RecordCodec};
use crate::{KeySpec, MapParams, SHOAL_GROUP};

/// Bytes read from a program's stdout at a time.
pub(crate) const CHUNK: usize = 1 << 20;
/// Bytes written to a program's stdin at a time.
const FEED_BUFFER: usize = 256 << 10;

/// The environment of a task's programs: Shoal's variables, the names
/// Hadoop Streaming scripts read, then `--env` (which wins).
pub(crate) fn environment(
    id: &TaskId,
    stage: &str,
    input: Option<&str>,
    params: &MapParams,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("SHOAL_JOB_ID".to_string(), id.job_id.clone()),
        ("SHOAL_STAGE".to_string(), stage.to_string()),
        ("SHOAL_PARTITION".to_string(), id.partition.to_string()),
        ("SHOAL_ATTEMPT".to_string(), id.attempt.to_string()),
        ("mapreduce_job_id".to_string(), id.job_id.clone()),
        (
            "mapreduce_task_partition".to_string(),
            id.partition.to_string(),
        ),
    ];
    if let Some(input) = input {
        env.push(("SHOAL_INPUT_FILE".to_string(), input.to_string()));
        env.push(("mapreduce_map_input_file".to_string(), input.to_string()));
        env.push(("map_input_file".to_string(), input.to_string()));
    }
    env.extend(params.env.iter().cloned());
    env
}

/// The attempt's deadline, from `--task-timeout`.
pub(crate) fn deadline(params: &MapParams, started: Instant) -> Option<Instant> {
    params.task_timeout.map(|t| started + t)
}

/// Sorts records by key, stably, spilling runs beyond the task's memory.
pub(crate) type KeySorter = ExternalSorter<Record, RecordCodec, fn(&Record, &Record) -> KeyOrder>;

/// A new external sorter of records by key, on the task's memory (its
/// buffers sorted by [`crate::keysort`]).
pub(crate) fn sorter(ctx: &TaskContext<'_>, keys: &KeySpec) -> KeySorter {
    ExternalSorter::new(
        RecordCodec {
            separator: keys.separator.as_bytes().to_vec(),
        },
        Record::cmp_keys as fn(&Record, &Record) -> KeyOrder,
        ctx.memory(),
        ctx.spill_space(),
        SortOptions::default(),
    )
    .with_in_memory_sort(crate::keysort::sort_records)
}

/// Cuts a program's stdout into records and pushes them into `sorter`;
/// hands back the sorter and how many records it took.
pub(crate) fn into_sorter(
    keys: &KeySpec,
    mut sorter: KeySorter,
) -> impl FnOnce(&mut PipeReader<'_>) -> Result<(KeySorter, u64), TaskError> + Send + '_ {
    move |stdout| {
        let mut lines = LineReader::new(stdout, CHUNK);
        let mut records = 0u64;
        while lines.next_chunk(|line| {
            records += 1;
            sorter.push(keys.record(line))
        })? {}
        Ok((sorter, records))
    }
}

/// Writes every sorted record to a program's stdin as `key SEP value`
/// lines, counting them in `fed`.
pub(crate) fn feed_sorted<'a>(
    stream: SortedStream<Record>,
    separator: &'a [u8],
    fed: &'a AtomicU64,
) -> impl FnOnce(&mut PipeWriter<'_>) -> Result<(), TaskError> + Send + 'a {
    move |stdin| {
        let mut buf = Vec::with_capacity(FEED_BUFFER + 4096);
        for batch in stream {
            let batch = batch?;
            fed.fetch_add(batch.len() as u64, Ordering::Relaxed);
            for record in &batch {
                record.write_line(separator, &mut buf);
                if buf.len() >= FEED_BUFFER {
                    stdin.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        stdin.write_all(&buf)?;
        Ok(())
    }
}

/// Copies a program's stdout to `file` as it is; returns its line count
/// (a last line without a newline counts).
pub(crate) fn into_file(
    file: &Path,
) -> impl FnOnce(&mut PipeReader<'_>) -> Result<u64, TaskError> + Send + '_ {
    move |stdout| {
        let create = |e| TaskError::caused_by(format!("writing {}", file.display()), e);
        let mut out = BufWriter::with_capacity(CHUNK, File::create(file).map_err(create)?);
        let mut buf = vec![0u8; CHUNK];
        let mut lines = 0u64;
        let mut last = b'\n';
        loop {
            let n = stdout.read(&mut buf)?;
            if n == 0 {
                break;
            }
            lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            last = buf[n - 1];
            out.write_all(&buf[..n]).map_err(create)?;
        }
        out.flush().map_err(create)?;
        Ok(lines + u64::from(last != b'\n'))
    }
}

/// Adds `amount` to Shoal's own counter `name` in `report`.
pub(crate) fn count(report: &mut TaskReport, name: &str, amount: u64) {
    report.counters.add(SHOAL_GROUP, name, amount as i64);
}

/// Takes a finished program's counters and status into the report.
pub(crate) fn absorb(report: &mut TaskReport, stderr: StderrReport) {
    report.counters.merge(&stderr.counters);
    if stderr.status.is_some() {
        report.status = stderr.status;
    }
}
