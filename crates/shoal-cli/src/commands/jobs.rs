//! `shoal jobs`: the registered jobs.

use std::process::ExitCode;

use shoal_core::{fingerprint, Registry};

use crate::CliError;

/// Prints each job of `registry` as its fingerprint (`name@version`, what
/// its workers advertise and `shoal status` shows) and its one-line
/// description, in one aligned column.
pub fn run(registry: &Registry) -> Result<ExitCode, CliError> {
    let rows: Vec<(String, &str)> = registry
        .jobs()
        .map(|job| (fingerprint(job.as_ref()), job.describe()))
        .collect();
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, describe) in rows {
        println!("{name:<width$}  {describe}");
    }
    Ok(ExitCode::SUCCESS)
}
