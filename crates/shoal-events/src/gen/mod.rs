//! The synthetic clickstream generator: deterministic, realistic, fast.
//!
//! Users are dealt to files round-robin (`user % files == file`), so each
//! file is an independent job with its own RNG stream: the bytes depend on
//! the options only, never on the thread count. Each file's rows are sorted
//! by time like a real log before writing.

mod model;
mod rng;
mod write;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use model::{Row, World};
use rng::Rng;
use write::Names;

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
/// if missing), in parallel, deterministically: same options → same bytes.
/// Other files named like generator output (`events-NNNNN.csv|jsonl|parquet`)
/// are removed so the directory holds exactly one data set.
pub fn generate(out_dir: &Path, opts: &GenOptions) -> Result<GenSummary, GenError> {
    let started = Instant::now();
    validate(opts)?;
    std::fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let paths: Vec<PathBuf> = (0..opts.files)
        .map(|f| out_dir.join(file_name(f, opts.format)))
        .collect();
    remove_stale(out_dir, &paths)?;
    let items = (opts.events / 50).clamp(100, 1_000_000) as u32;
    let world = World::new(opts.days, items);
    let names = Names {
        user_width: digits(opts.users.saturating_sub(1)).max(6),
    };
    let sizes = Mutex::new(vec![0u64; paths.len()]);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len())
        .max(1);
    std::thread::scope(|scope| -> Result<(), GenError> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), GenError> {
                    loop {
                        let f = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(f) else {
                            return Ok(());
                        };
                        let rows = file_rows(opts, &world, f as u32);
                        let tmp = path.with_extension("part.tmp");
                        let bytes = write::write_rows(&tmp, opts.format, &names, &rows)?;
                        std::fs::rename(&tmp, path).map_err(|source| GenError::Io {
                            path: path.clone(),
                            source,
                        })?;
                        if let Ok(mut sizes) = sizes.lock() {
                            sizes[f] = bytes;
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        Ok(())
    })?;
    let bytes = sizes.into_inner().map(|s| s.iter().sum()).unwrap_or(0);
    Ok(GenSummary {
        files: paths,
        events: opts.events,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn validate(opts: &GenOptions) -> Result<(), GenError> {
    let bad = |option, value, reason| {
        Err(GenError::InvalidOption {
            option,
            value,
            reason,
        })
    };
    if opts.files == 0 {
        return bad("files", 0, "must be at least 1");
    }
    if opts.days == 0 {
        return bad("days", 0, "must be at least 1");
    }
    if opts.users == 0 || opts.users > u64::from(u32::MAX - 1) {
        return bad("users", opts.users, "must be between 1 and 4294967294");
    }
    if opts.events / u64::from(opts.files) > u64::from(u32::MAX) {
        return bad("events", opts.events, "too many per file: raise --files");
    }
    Ok(())
}

/// `events-00003.csv`
fn file_name(f: u32, format: GenFormat) -> String {
    let ext = match format {
        GenFormat::Csv => "csv",
        GenFormat::Jsonl => "jsonl",
        GenFormat::Parquet => "parquet",
    };
    format!("events-{f:05}.{ext}")
}

/// Removes earlier generator output not part of this run.
fn remove_stale(out_dir: &Path, keep: &[PathBuf]) -> Result<(), GenError> {
    let io = |source| GenError::Io {
        path: out_dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(out_dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ours = name
            .strip_prefix("events-")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(num, ext)| {
                num.len() == 5
                    && num.bytes().all(|b| b.is_ascii_digit())
                    && matches!(ext, "csv" | "jsonl" | "parquet")
            });
        if ours && !keep.contains(&path) {
            std::fs::remove_file(&path).map_err(|source| GenError::Io { path, source })?;
        }
    }
    Ok(())
}

fn digits(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// The time-ordered rows of file `f`: its users are `f, f + files, ...`.
fn file_rows(opts: &GenOptions, world: &World, f: u32) -> Vec<Row> {
    let files = u64::from(opts.files);
    let events = opts.events / files + u64::from(u64::from(f) < opts.events % files);
    let users: Vec<u32> = (u64::from(f)..opts.users)
        .step_by(files as usize)
        .map(|u| u as u32)
        .collect();
    let mut rng = Rng::new(opts.seed, u64::from(f) + 1);
    let budgets = model::budgets(&mut rng, users.len(), events);
    let mut rows = Vec::with_capacity(events as usize);
    let mut seq = 0u32;
    for (user, budget) in users.iter().zip(budgets) {
        model::user_events(&mut rng, world, *user, budget, &mut seq, &mut rows);
    }
    rows.sort_unstable_by_key(|r| (r.ts, r.seq));
    rows
}
