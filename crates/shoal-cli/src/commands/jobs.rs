//! `shoal jobs`: the registered jobs.

use std::process::ExitCode;

use crate::CliError;

/// Prints each registered job with its one-line description.
pub fn run() -> Result<ExitCode, CliError> {
    for job in crate::jobs::registry().jobs() {
        println!("{:<12} {}", job.name(), job.describe());
    }
    Ok(ExitCode::SUCCESS)
}
