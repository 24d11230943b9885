//! The harness's command line.

use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;

/// The seed CI runs with (fixed: CI must never flake on a schedule it has
/// not seen before).
pub const DEFAULT_SEED: u64 = 20_241_130;

/// Runs a real Shoal cluster and a bank workload, injects faults chosen
/// from a seed while jobs run, and checks what every fault may cost. Exits
/// 0 when every check held, 1 when one failed (the seed is printed: rerun
/// with it to replay the same schedule), 2 on a bad command line.
#[derive(Debug, Parser)]
#[command(name = "shoal-chaos", version)]
pub struct Args {
    /// How long the job stream runs, in minutes (setup and the final
    /// checks come on top).
    #[arg(long, default_value_t = 3.0, value_parser = positive_minutes)]
    pub minutes: f64,
    /// The schedule's seed: a number, or `random` (printed first, so a
    /// failure can be replayed).
    #[arg(long, default_value_t = SeedArg::Fixed(DEFAULT_SEED))]
    pub seed: SeedArg,
    /// Stop after this many jobs even if time remains (to replay a
    /// failure up to the job that showed it).
    #[arg(long, value_name = "N")]
    pub jobs: Option<u64>,
    /// Worker processes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(3..=8))]
    pub workers: u64,
    /// The `shoal` binary the cluster runs (default: `shoal` next to this
    /// program, as cargo builds both into one target directory).
    #[arg(long, value_name = "PATH")]
    pub shoal: Option<PathBuf>,
    /// Every process on 127.0.0.1 and no network cuts, so no root is
    /// needed (by default each worker gets a network namespace).
    #[arg(long)]
    pub no_netns: bool,
    /// Go on after a failed check (by default the run stops after the
    /// step that showed it, so the cluster it broke is not blamed again).
    #[arg(long)]
    pub keep_going: bool,
    /// Keep the run's directory (logs, inputs, outputs) even when every
    /// check passes; a failed run always keeps its logs.
    #[arg(long)]
    pub keep: bool,
}

/// `--seed N` or `--seed random`.
#[derive(Debug, Clone, Copy)]
pub enum SeedArg {
    /// This seed.
    Fixed(u64),
    /// A seed drawn from the operating system.
    Random,
}

impl SeedArg {
    /// The seed to run with.
    pub fn resolve(self) -> u64 {
        match self {
            SeedArg::Fixed(seed) => seed,
            // The OS random source; on failure the clock still differs
            // between runs, which is all a soak needs.
            SeedArg::Random => getrandom::u64().unwrap_or_else(|_| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            }),
        }
    }
}

impl FromStr for SeedArg {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "random" {
            return Ok(SeedArg::Random);
        }
        text.parse()
            .map(SeedArg::Fixed)
            .map_err(|_| format!("'{text}' is neither a number nor `random`"))
    }
}

impl std::fmt::Display for SeedArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedArg::Fixed(seed) => write!(f, "{seed}"),
            SeedArg::Random => f.write_str("random"),
        }
    }
}

fn positive_minutes(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(m) if m > 0.0 && m.is_finite() => Ok(m),
        _ => Err(format!("'{text}' is not a positive number of minutes")),
    }
}
