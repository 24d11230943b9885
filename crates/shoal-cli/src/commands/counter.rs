//! `shoal counter add NAME N` / `shoal counter get NAME`: atomic counters.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::lock::{coord_error, CoordOpt};
use crate::CliError;

/// Atomic counters shared by every client of the coordinator.
#[derive(Debug, Args)]
pub struct CounterArgs {
    /// What to do.
    #[command(subcommand)]
    pub op: CounterOp,
    /// Where the coordination state lives.
    #[command(flatten)]
    pub coord: CoordOpt,
}

/// Counter operations.
#[derive(Debug, Subcommand)]
pub enum CounterOp {
    /// Add N (may be negative) and print the new value.
    Add {
        /// Counter name.
        name: String,
        /// Amount to add.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// Print the current value (0 if never added to).
    Get {
        /// Counter name.
        name: String,
    },
}

/// Runs one counter operation.
pub fn run(args: CounterArgs) -> Result<ExitCode, CliError> {
    args.coord.run(async |coord| {
        let value = match args.op {
            CounterOp::Add { name, n } => coord.counter_add(&name, n).await,
            CounterOp::Get { name } => coord.counter_get(&name).await,
        }
        .map_err(coord_error)?;
        println!("{value}");
        Ok(ExitCode::SUCCESS)
    })
}
