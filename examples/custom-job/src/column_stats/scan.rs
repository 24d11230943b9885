//! Stage 1, `scan`: one task per input file. Parses the key and value
//! columns, adds up each key's numbers in the file, and sends each key's
//! partial statistics to partition `partition_of(key, P)` of stage 2
//! (`stable_hash(key) % P`, the routing every shuffle uses).
//! A shuffle stage has no result of its own, so the task's rejected rows
//! travel in bucket 0 too, as a line of their own.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use shoal::store::inputs::InputFile;
use shoal::{partition_of, TaskContext, TaskError};

use super::stats::{KeyStats, Num};

/// Rejected rows shown per task (and in all), like `shoal analyze`.
pub const MAX_SAMPLES: usize = 10;

/// One line of a scan task's shuffle output (JSON): a key's partial
/// statistics, or (in bucket 0 only) the task's rejected rows.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Line {
    /// `{"key": ["east", {"count": 3, "sum": 42, "min": 2, "max": 30}]}`
    Key(String, KeyStats),
    /// `{"rejects": {"count": 1, "samples": ["a.csv:5: …"]}}`
    Rejects(Rejects),
}

/// Rows whose value is not a number (or that are malformed).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Rejects {
    /// How many rows were skipped.
    pub count: u64,
    /// The first few, as `file:line: reason`.
    pub samples: Vec<String>,
}

impl Rejects {
    fn add(&mut self, sample: impl FnOnce() -> String) {
        self.count += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(sample());
        }
    }
}

/// The index of `column` in `file`'s header, or a user error naming both.
pub fn column_index(
    file: &str,
    headers: &csv::StringRecord,
    column: &str,
) -> Result<usize, String> {
    headers.iter().position(|h| h == column).ok_or_else(|| {
        let known: Vec<&str> = headers.iter().collect();
        format!(
            "{file}: no column '{column}' in the header (columns: {})",
            known.join(", ")
        )
    })
}

/// Opens `file` (a path or store URL) as a CSV reader with a header.
pub fn open(file: &str) -> Result<csv::Reader<Box<dyn std::io::Read>>, TaskError> {
    let input = InputFile::of(Path::new(file))
        .and_then(|input| input.open())
        .map_err(|e| TaskError::caused_by(format!("opening {file}"), e))?;
    Ok(csv::Reader::from_reader(input))
}

/// The scan task for `file`.
pub fn scan(
    ctx: &mut TaskContext<'_>,
    file: &str,
    key: &str,
    value: &str,
) -> Result<(), TaskError> {
    let mut reader = open(file)?;
    let headers = reader
        .headers()
        .map_err(|e| TaskError::input(format!("{file}: {e}")))?
        .clone();
    let key_at = column_index(file, &headers, key).map_err(TaskError::input)?;
    let value_at = column_index(file, &headers, value).map_err(TaskError::input)?;
    let mut keys: HashMap<String, KeyStats> = HashMap::new();
    let mut rejects = Rejects::default();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            // A malformed row (wrong field count, bad UTF-8) is skipped
            // and counted like a bad number; a failed read is not.
            Err(e) if e.is_io_error() => {
                return Err(TaskError::caused_by(format!("reading {file}"), e));
            }
            Err(e) => {
                rejects.add(|| format!("{file}:{line}: {}", malformed(&e)));
                continue;
            }
        }
        rows += 1;
        bytes += record.as_slice().len() as u64;
        let (k, v) = (&record[key_at], &record[value_at]);
        match Num::parse(v) {
            Some(n) => match keys.get_mut(k) {
                Some(stats) => stats.merge(KeyStats::of(n)),
                None => {
                    keys.insert(k.to_string(), KeyStats::of(n));
                }
            },
            None => rejects.add(|| format!("{file}:{line}: value '{v}' is not a number")),
        }
    }
    let buckets = ctx.buckets();
    let partitions = buckets.len() as u32;
    write_line(&mut buckets[0], &Line::Rejects(rejects))?;
    for (key, stats) in keys {
        let bucket = partition_of(key.as_bytes(), partitions) as usize;
        write_line(&mut buckets[bucket], &Line::Key(key, stats))?;
    }
    ctx.add_progress(rows, bytes);
    Ok(())
}

/// Why a row could not be read, in a few words.
fn malformed(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            let plural = if *len == 1 { "" } else { "s" };
            format!("{len} field{plural}, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
        _ => e.to_string(),
    }
}

fn write_line(bucket: &mut Vec<u8>, line: &Line) -> Result<(), TaskError> {
    shoal::serde_json::to_writer(&mut *bucket, line)
        .map_err(|e| TaskError::fatal(format!("encoding column statistics: {e}")))?;
    bucket.push(b'\n');
    Ok(())
}
