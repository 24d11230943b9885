//! `shoal gen`: write a deterministic, realistic synthetic clickstream.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shoal_events::{generate, GenError, GenFormat, GenOptions};

use crate::CliError;

/// Generate synthetic clickstream logs (same arguments → same bytes).
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Directory to write `events-NNNNN.<ext>` files into (created if
    /// missing; earlier generator files in it are replaced).
    #[arg(value_name = "OUT_DIR")]
    pub out_dir: PathBuf,
    /// Total events to write (0 writes empty files).
    #[arg(long, value_name = "N")]
    pub events: u64,
    /// Distinct users to draw from [default: events / 20, at least 1].
    #[arg(long, value_name = "U", value_parser = clap::value_parser!(u64).range(1..=4_294_967_294))]
    pub users: Option<u64>,
    /// Days covered, starting 2026-01-01 UTC.
    #[arg(long, value_name = "D", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub days: u32,
    /// RNG seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Number of output files (written in parallel).
    #[arg(long, value_name = "F", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub files: u32,
    /// Output format: csv, jsonl or parquet.
    #[arg(long, value_name = "FORMAT", default_value = "csv")]
    pub format: GenFormat,
}

/// Generates the files and prints a one-line summary.
pub fn run(args: GenArgs) -> Result<ExitCode, CliError> {
    let mut opts = GenOptions::with_events(args.events);
    if let Some(users) = args.users {
        opts.users = users;
    }
    opts.days = args.days;
    opts.seed = args.seed;
    opts.files = args.files;
    opts.format = args.format;
    let summary = generate(&args.out_dir, &opts).map_err(|err| match err {
        // Options and an unwritable OUT_DIR are the user's to fix.
        GenError::InvalidOption { .. } | GenError::Io { .. } => CliError::usage(err.to_string()),
        other => CliError::Failed(other.into()),
    })?;
    println!(
        "wrote {} files, {} events, {:.1} MB to {} in {:.2} s",
        summary.files.len(),
        summary.events,
        summary.bytes as f64 / 1e6,
        args.out_dir.display(),
        summary.seconds
    );
    Ok(ExitCode::SUCCESS)
}
