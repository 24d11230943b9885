//! A map task: one split (or one whole file with `--per-file`) through the
//! mapper; then either its output is a part file (map-only) or its
//! records are sorted by key, combined, and routed to the reducers'
//! buckets by a stable hash of the key.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use shoal_core::extsort::SortedStream;
use shoal_core::route::partition_of;
use shoal_core::{TaskContext, TaskError};
use shoal_store::inputs::{is_store_url, open_line_split, InputFile, LineSplit};

use crate::job::TaskReport;
use crate::process::{self, Limits, PipeWriter, Program};
use crate::record::{encode_report, Record};
use crate::task::{
    absorb, count, deadline, environment, feed_sorted, into_file, into_sorter, sorter,
};
use crate::taskdir::TaskDir;
use crate::{output, MapParams};

/// Bytes of input handed to the mapper per write.
const FEED: usize = 256 << 10;

/// Runs map task `ctx.partition()`.
pub(crate) fn run(ctx: &mut TaskContext<'_>, params: &MapParams) -> Result<(), TaskError> {
    let started = Instant::now();
    let index = ctx.partition();
    let split = params
        .splits
        .get(index as usize)
        .ok_or_else(|| TaskError::fatal(format!("no split for map task {index}")))?;
    let id = ctx.id();
    let dir = TaskDir::create(ctx.spill_space().dir(), &id, &params.ship)?;
    let command = match params.per_file {
        true => per_file_command(&params.mapper, split, &dir)?,
        false => params.mapper.clone(),
    };
    let env = environment(&id, "map", Some(&split.path), params);
    let program = Program {
        role: "mapper",
        command: &command,
        dir: dir.path(),
        env: &env,
    };
    let (lines_in, bytes_in) = (AtomicU64::new(0), AtomicU64::new(0));
    let feed = |stdin: &mut PipeWriter<'_>| match params.per_file {
        true => Ok(()),
        false => feed_split(split, stdin, &lines_in, &bytes_in),
    };
    let mut report = TaskReport::default();
    let sorted = {
        let is_cancelled = || ctx.is_cancelled();
        let limits = Limits {
            deadline: deadline(params, started),
            timeout: params.task_timeout,
            cancelled: &is_cancelled,
        };
        if !params.has_reduce() {
            let out = dir.output_path();
            let ran = process::run(&program, &limits, feed, into_file(&out))?;
            count(&mut report, "map_output_records", ran.output);
            absorb(&mut report, ran.stderr);
            output::commit_part(&params.out, index, &out)?;
            None
        } else {
            let sorter = sorter(ctx, &params.keys);
            let ran = process::run(&program, &limits, feed, into_sorter(&params.keys, sorter))?;
            let (sorter, records) = ran.output;
            count(&mut report, "map_output_records", records);
            absorb(&mut report, ran.stderr);
            let sorted = sorter.finish()?;
            Some(match &params.combiner {
                Some(combiner) => {
                    combine(ctx, params, combiner, &dir, &limits, sorted, &mut report)?
                }
                None => sorted,
            })
        }
    };
    let (lines, bytes) = (lines_in.into_inner(), bytes_in.into_inner());
    if !params.per_file {
        count(&mut report, "map_input_records", lines);
        count(&mut report, "map_input_bytes", bytes);
    }
    if let Some(sorted) = sorted {
        // A shuffle stage hands no result to the driver: the report rides
        // at the head of bucket 0, and reduce task 0 passes it on.
        encode_report(&report.to_blob()?, &mut ctx.buckets()[0]);
        route(ctx, params, sorted)?;
    }
    ctx.add_progress(lines, bytes);
    ctx.set_result(report.to_blob()?);
    Ok(())
}

/// Hands the lines `split` owns to the mapper, ending the last one with a
/// newline if the file does not.
fn feed_split(
    split: &LineSplit,
    stdin: &mut PipeWriter<'_>,
    lines: &AtomicU64,
    bytes: &AtomicU64,
) -> Result<(), TaskError> {
    let reading = |e: &dyn std::fmt::Display| format!("reading {}: {e}", split.path);
    let mut input = open_line_split(split).map_err(|e| TaskError::new(reading(&e)))?;
    let mut buf = vec![0u8; FEED];
    let mut last = b'\n';
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(TaskError::new(reading(&e))),
        };
        lines.fetch_add(
            memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
            Ordering::Relaxed,
        );
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        last = buf[n - 1];
        stdin.write_all(&buf[..n])?;
    }
    if last != b'\n' {
        lines.fetch_add(1, Ordering::Relaxed);
        stdin.write_all(b"\n")?;
    }
    Ok(())
}

/// `--per-file`: the mapper with `{}` replaced by the file's local path
/// (shell-quoted), fetched into the task directory when it is in a store.
fn per_file_command(mapper: &str, split: &LineSplit, dir: &TaskDir) -> Result<String, TaskError> {
    let local = if is_store_url(&split.path) {
        let name = split.path.rsplit('/').next().unwrap_or("input");
        let target = dir.path().join(name);
        let fetch = |e: &dyn std::fmt::Display| {
            TaskError::new(format!(
                "fetching {} into the task directory: {e}",
                split.path
            ))
        };
        let mut source = InputFile::of(Path::new(&split.path))
            .and_then(|f| f.open())
            .map_err(|e| fetch(&e))?;
        let mut file = std::fs::File::create(&target).map_err(|e| fetch(&e))?;
        std::io::copy(&mut source, &mut file).map_err(|e| fetch(&e))?;
        target
    } else {
        std::path::absolute(&split.path)
            .map_err(|e| TaskError::new(format!("{}: {e}", split.path)))?
    };
    Ok(mapper.replace("{}", &shell_quote(&local.display().to_string())))
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Runs the combiner over the map task's sorted records (the reducer's
/// contract) and sorts what it writes.
fn combine(
    ctx: &TaskContext<'_>,
    params: &MapParams,
    combiner: &str,
    dir: &TaskDir,
    limits: &Limits<'_>,
    sorted: SortedStream<Record>,
    report: &mut TaskReport,
) -> Result<SortedStream<Record>, TaskError> {
    let env = environment(&ctx.id(), "combine", None, params);
    let program = Program {
        role: "combiner",
        command: combiner,
        dir: dir.path(),
        env: &env,
    };
    let fed = AtomicU64::new(0);
    let separator = params.keys.separator.as_bytes();
    let ran = process::run(
        &program,
        limits,
        feed_sorted(sorted, separator, &fed),
        into_sorter(&params.keys, sorter(ctx, &params.keys)),
    )?;
    let (sorter, records) = ran.output;
    count(report, "combine_input_records", fed.into_inner());
    count(report, "combine_output_records", records);
    absorb(report, ran.stderr);
    sorter.finish()
}

/// Appends every record to bucket `partition_of(key, reducers)`, in key
/// order, spilling staged buckets that outgrow the task's memory.
fn route(
    ctx: &mut TaskContext<'_>,
    params: &MapParams,
    sorted: SortedStream<Record>,
) -> Result<(), TaskError> {
    let separator = params.keys.separator.as_bytes();
    for batch in sorted {
        let batch = batch?;
        let buckets = ctx.buckets();
        for record in &batch {
            let bucket = partition_of(record.key(), params.reducers) as usize;
            record.encode(separator, &mut buckets[bucket]);
        }
        ctx.spill_output_if_needed()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_quoted_as_one_shell_word() {
        assert_eq!(super::shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(super::shell_quote("it's"), r"'it'\''s'");
    }
}
