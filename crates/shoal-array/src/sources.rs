//! Where arrays come from: vectors, ranges, text and CSV files.
//!
//! Every source here knows its partitioning when it is made; in-memory
//! sources also know their partition lengths, so `len`, `get` and `zip`
//! on them (and on their `map`s) run nothing extra.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use shoal_core::TaskError;
use shoal_store::inputs::{plan_line_splits, read_line_split, InputFile};

use crate::array::Compute;
use crate::codec::Element;
use crate::part::{Flow, Part, BATCH};
use crate::{ArrayError, DistArray, Session};

/// Bounds of partition `p` when `n` items are cut into `parts` even runs.
fn even_range(n: u64, parts: u32, p: u32) -> std::ops::Range<u64> {
    let parts = parts as u128;
    let start = (n as u128 * p as u128 / parts) as u64;
    let end = (n as u128 * (p as u128 + 1) / parts) as u64;
    start..end
}

/// Partition lengths of `n` items cut into `parts` even runs.
pub(crate) fn even_lengths(n: u64, parts: u32) -> Vec<u64> {
    (0..parts)
        .map(|p| {
            let r = even_range(n, parts, p);
            r.end - r.start
        })
        .collect()
}

impl Session {
    /// `items` cut into `partitions` contiguous partitions of (nearly)
    /// equal length; 0 partitions is taken as 1. The vector is shared by
    /// the tasks, not copied up front. On a cluster the vector is part of
    /// the plan, so build it from the job's parameters.
    pub fn from_vec<T: Element>(&self, items: Vec<T>, partitions: u32) -> DistArray<T> {
        let parts = partitions.max(1);
        let n = items.len() as u64;
        let items = Arc::new(items);
        let compute: Compute<T> = Arc::new(move |ctx| {
            let r = even_range(n, parts, ctx.partition());
            Ok(Flow::Ready(Part::Shared(
                items.clone(),
                r.start as usize..r.end as usize,
            )))
        });
        DistArray::source(
            self.clone(),
            parts,
            Some(even_lengths(n, parts)),
            true,
            compute,
        )
    }

    /// An array whose partitions are exactly `partitions` (empty ones
    /// included); no partitions at all is taken as one empty partition.
    pub fn from_partitions<T: Element>(&self, mut partitions: Vec<Vec<T>>) -> DistArray<T> {
        if partitions.is_empty() {
            partitions.push(Vec::new());
        }
        let lengths = partitions.iter().map(|p| p.len() as u64).collect();
        let parts = partitions.len() as u32;
        let partitions = Arc::new(partitions);
        let compute: Compute<T> = Arc::new(move |ctx| {
            Ok(Flow::Ready(Part::Owned(
                partitions[ctx.partition() as usize].clone(),
            )))
        });
        DistArray::source(self.clone(), parts, Some(lengths), true, compute)
    }

    /// The items of `iter`, collected and cut like [`Session::from_vec`].
    pub fn from_iter<T: Element>(
        &self,
        iter: impl IntoIterator<Item = T>,
        partitions: u32,
    ) -> DistArray<T> {
        self.from_vec(iter.into_iter().collect(), partitions)
    }

    /// `0..n` in `partitions` even partitions, generated inside the tasks.
    pub fn range(&self, n: u64, partitions: u32) -> DistArray<u64> {
        let parts = partitions.max(1);
        // Generated batch by batch: a partition never has to fit in memory.
        let compute: Compute<u64> = Arc::new(move |ctx| {
            let range = even_range(n, parts, ctx.partition());
            let batches = (range.start..range.end)
                .step_by(BATCH)
                .map(move |start| Ok((start..(start + BATCH as u64).min(range.end)).collect()));
            Ok(Flow::Stream(Box::new(batches)))
        });
        DistArray::source(
            self.clone(),
            parts,
            Some(even_lengths(n, parts)),
            false,
            compute,
        )
    }

    /// The lines (without `\n` / `\r\n`; invalid UTF-8 replaced) of text
    /// files or directories, one partition per split of about
    /// `split_bytes`. Paths are local (or on a shared mount every node
    /// sees), or store URLs (`s3://bucket/logs/`, globs included).
    pub fn text_lines(
        &self,
        paths: &[String],
        split_bytes: u64,
    ) -> Result<DistArray<String>, ArrayError> {
        let splits = plan_line_splits(paths, split_bytes).map_err(|e| ArrayError::Input {
            path: paths.join(", "),
            reason: e.to_string(),
        })?;
        let parts = splits.len().max(1) as u32;
        let splits = Arc::new(splits);
        let compute: Compute<String> = Arc::new(move |ctx| {
            let Some(split) = splits.get(ctx.partition() as usize) else {
                return Ok(Flow::Ready(Part::Owned(Vec::new())));
            };
            let mut lines = Vec::new();
            read_line_split(split, |line| {
                lines.push(String::from_utf8_lossy(line).into_owned())
            })
            .map_err(|e| TaskError::caused_by(format!("reading {}", split.path), e))?;
            Ok(Flow::Ready(Part::Owned(lines)))
        });
        Ok(DistArray::source(self.clone(), parts, None, false, compute))
    }

    /// The records of CSV files (local or store URLs, as for
    /// [`Session::text_lines`]), one partition per file, each row
    /// deserialised into `R` (by header name when `has_headers`, else by
    /// position). A row that does not parse fails the job with a user
    /// input error naming the file and line.
    pub fn csv<R: Element + DeserializeOwned>(
        &self,
        paths: &[String],
        has_headers: bool,
    ) -> Result<DistArray<R>, ArrayError> {
        let files = plan_line_splits(paths, u64::MAX).map_err(|e| ArrayError::Input {
            path: paths.join(", "),
            reason: e.to_string(),
        })?;
        let files: Arc<Vec<String>> = Arc::new(files.into_iter().map(|s| s.path).collect());
        let parts = files.len().max(1) as u32;
        let compute: Compute<R> = Arc::new(move |ctx| {
            let Some(path) = files.get(ctx.partition() as usize) else {
                return Ok(Flow::Ready(Part::Owned(Vec::new())));
            };
            read_csv(path, has_headers).map(|rows| Flow::Ready(Part::Owned(rows)))
        });
        Ok(DistArray::source(self.clone(), parts, None, false, compute))
    }

    /// The values of column `column` of CSV files with a header (local or
    /// store URLs, as for [`Session::text_lines`]), one partition per
    /// file, in row order. A file without that column, or a row with a
    /// different number of fields than the header, fails the job with a
    /// user input error naming the file (and line).
    pub fn csv_column(
        &self,
        paths: &[String],
        column: &str,
    ) -> Result<DistArray<String>, ArrayError> {
        let files = plan_line_splits(paths, u64::MAX).map_err(|e| ArrayError::Input {
            path: paths.join(", "),
            reason: e.to_string(),
        })?;
        let files: Arc<Vec<String>> = Arc::new(files.into_iter().map(|s| s.path).collect());
        let parts = files.len().max(1) as u32;
        let column = column.to_string();
        let compute: Compute<String> = Arc::new(move |ctx| {
            let Some(path) = files.get(ctx.partition() as usize) else {
                return Ok(Flow::Ready(Part::Owned(Vec::new())));
            };
            read_csv_column(path, &column).map(|values| Flow::Ready(Part::Owned(values)))
        });
        Ok(DistArray::source(self.clone(), parts, None, false, compute))
    }
}

/// One column of one CSV file with a header.
fn read_csv_column(path: &str, column: &str) -> Result<Vec<String>, TaskError> {
    let file = InputFile::of(Path::new(path))
        .and_then(|file| file.open())
        .map_err(|e| TaskError::caused_by(format!("opening {path}"), e))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(file);
    let bad_row = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        TaskError::input(format!("{path}:{line}: {e}"))
    };
    let headers = reader.headers().map_err(bad_row)?;
    let Some(index) = headers.iter().position(|h| h == column) else {
        let known: Vec<&str> = headers.iter().collect();
        return Err(TaskError::input(format!(
            "{path}: no column '{column}' in the header (columns: {})",
            known.join(", ")
        )));
    };
    let mut values = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad_row)?;
        values.push(record.get(index).unwrap_or_default().to_string());
    }
    Ok(values)
}

/// Every record of one CSV file.
fn read_csv<R: DeserializeOwned>(path: &str, has_headers: bool) -> Result<Vec<R>, TaskError> {
    let file = InputFile::of(Path::new(path))
        .and_then(|file| file.open())
        .map_err(|e| TaskError::caused_by(format!("opening {path}"), e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .from_reader(file);
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        let row: R = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            TaskError::input(format!("{path}:{line}: {e}"))
        })?;
        rows.push(row);
    }
    Ok(rows)
}
