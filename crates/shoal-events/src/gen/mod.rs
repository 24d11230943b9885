//! The synthetic clickstream generator.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{GenError, ParseOptionError};

/// Output format of the generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GenFormat {
    /// CSV with header `user_id,ts,event,item`.
    #[default]
    Csv,
    /// JSON Lines.
    Jsonl,
    /// Parquet (snappy).
    Parquet,
}

impl FromStr for GenFormat {
    type Err = ParseOptionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(GenFormat::Csv),
            "jsonl" => Ok(GenFormat::Jsonl),
            "parquet" => Ok(GenFormat::Parquet),
            _ => Err(ParseOptionError {
                option: "format",
                value: s.to_string(),
                expected: "csv, jsonl or parquet",
            }),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenOptions {
    /// Total events over all files (exact).
    pub events: u64,
    /// Number of distinct users to draw from (an upper bound).
    pub users: u64,
    /// Days covered, starting 2026-01-01 UTC.
    pub days: u32,
    /// RNG seed: same options → same bytes.
    pub seed: u64,
    /// Number of output files.
    pub files: u32,
    /// Output format.
    pub format: GenFormat,
}

impl GenOptions {
    /// Defaults for `events` events: users = events / 20 (at least 1),
    /// 30 days, seed 1, 8 files, CSV.
    pub fn with_events(events: u64) -> Self {
        GenOptions {
            events,
            users: (events / 20).max(1),
            days: 30,
            seed: 1,
            files: 8,
            format: GenFormat::Csv,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenSummary {
    /// The files written, in order.
    pub files: Vec<PathBuf>,
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Writes `opts.files` files `events-NNNNN.<ext>` into `out_dir` (created
/// if missing), in parallel, deterministically.
pub fn generate(out_dir: &Path, opts: &GenOptions) -> Result<GenSummary, GenError> {
    let _ = (out_dir, opts);
    unimplemented!()
}
