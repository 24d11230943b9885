//! The `shoal` binary: `main → run(parsed flags) → dispatch`.
//!
//! Only `main` picks the exit code: 0 on success, 2 for user mistakes
//! (bad flags, missing inputs, bad rows under `--strict`), 1 for failures
//! of the job itself. Every command lives in its own module under
//! `commands/` and returns [`CliError`].

mod commands;
mod error;
mod jobs;
mod progress;
mod runner;
mod size;

use std::process::ExitCode;

use clap::Parser;

pub use error::CliError;

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return error::exit_for_clap(err),
    };
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => error::report(err),
    }
}
