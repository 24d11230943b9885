//! `shoal run JOB --params JSON [--out FILE]`: run any registered job by
//! name and show its result.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shoal_core::{JobSpec, Registry};

use crate::output::Destination;
use crate::runner::{job_error, RunArgs};
use crate::CliError;

/// Run a job by name (see the `jobs` command) with JSON parameters, and
/// print its result: text and JSON on stdout, binary results to --out FILE
/// or a pipe. The run's statistics go to stderr (and --stats FILE).
#[derive(Debug, Args)]
pub struct RunJobArgs {
    /// The job's name.
    pub job: String,
    /// The job's parameters as a JSON object.
    #[arg(long, default_value = "{}")]
    pub params: String,
    /// Write the result to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the job and writes its result where the flags and its output
/// format say.
pub fn run(args: RunJobArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let params: serde_json::Value = serde_json::from_str(&args.params)
        .map_err(|e| CliError::usage(format!("--params is not valid JSON: {e}")))?;
    let format = registry.get(&args.job).map_err(job_error)?.output_format();
    let destination = Destination::choose(&args.job, format, args.out)?;
    let output = args
        .run
        .run_job(registry, JobSpec::new(&args.job, params))?;
    destination.write(&output.result)?;
    Ok(ExitCode::SUCCESS)
}
