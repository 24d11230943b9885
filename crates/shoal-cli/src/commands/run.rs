//! `shoal run JOB --params JSON`: run any registered job by name.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use shoal_core::{JobSpec, Registry};

use crate::runner::RunArgs;
use crate::CliError;

/// Run a registered job with JSON parameters (see `shoal jobs`); prints
/// each result blob of its last stage on its own line.
#[derive(Debug, Args)]
pub struct RunJobArgs {
    /// The job name.
    pub job: String,
    /// The job's parameters as a JSON object.
    #[arg(long, default_value = "{}")]
    pub params: String,
    /// Print only the wall time and task rate, not the results.
    #[arg(long)]
    pub timing: bool,
    /// How to run the job (threads, memory, cluster).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the job and prints its results.
pub fn run(args: RunJobArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let params: serde_json::Value = serde_json::from_str(&args.params)
        .map_err(|e| CliError::usage(format!("--params is not valid JSON: {e}")))?;
    let started = Instant::now();
    let output = args
        .run
        .run_job(registry, JobSpec::new(&args.job, params))?;
    if args.timing {
        let secs = started.elapsed().as_secs_f64();
        let n = output.results.len();
        println!("{n} tasks in {secs:.3}s = {:.0} tasks/s", n as f64 / secs);
        return Ok(ExitCode::SUCCESS);
    }
    for blob in &output.results {
        println!("{}", String::from_utf8_lossy(blob));
    }
    Ok(ExitCode::SUCCESS)
}
