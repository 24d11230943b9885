//! `shoal jobs`: the registered jobs.

use std::process::ExitCode;

use shoal_core::Registry;

use crate::CliError;

/// Prints each job of `registry` with its one-line description.
pub fn run(registry: &Registry) -> Result<ExitCode, CliError> {
    for job in registry.jobs() {
        println!("{:<12} {}", job.name(), job.describe());
    }
    Ok(ExitCode::SUCCESS)
}
