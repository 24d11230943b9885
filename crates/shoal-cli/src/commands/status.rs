//! `shoal status` and `shoal cancel`: look at and steer a cluster.

use std::process::ExitCode;

use clap::Args;
use shoal_cluster::{cancel_job, cluster_status, ClusterError};

use crate::CliError;

/// Show live workers and recent jobs.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The `redis://` control plane.
    #[arg(long, value_name = "URL", env = "SHOAL_COORD", hide_env_values = true)]
    pub coord: String,
    /// How many recent jobs to show.
    #[arg(long, default_value_t = 10)]
    pub jobs: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Cancel a running job.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The job run id (see `shoal status`).
    pub job: String,
    /// The `redis://` control plane.
    #[arg(long, value_name = "URL", env = "SHOAL_COORD", hide_env_values = true)]
    pub coord: String,
}

fn cluster_error(err: ClusterError) -> CliError {
    match err {
        ClusterError::InvalidUrl(_) => CliError::usage(err.to_string()),
        other => CliError::Failed(anyhow::anyhow!(other)),
    }
}

/// Prints workers and jobs.
pub fn run(args: StatusArgs) -> Result<ExitCode, CliError> {
    let status = cluster_status(&args.coord, args.jobs).map_err(cluster_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).map_err(anyhow::Error::from)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("workers ({} live)", status.workers.len());
    println!(
        "  {:<24} {:<16} {:>5} {:>7} {:>10}  JOBS",
        "NAME", "HOST", "SLOTS", "RUNNING", "HEARTBEAT"
    );
    for w in &status.workers {
        println!(
            "  {:<24} {:<16} {:>5} {:>7} {:>8}ms  {}",
            w.name,
            w.host,
            w.slots,
            w.running,
            w.last_heartbeat_ms,
            w.jobs.join(" ")
        );
    }
    for name in &status.gone {
        println!("  {name:<24} gone (no heartbeat)");
    }
    if !status.queues.is_empty() {
        println!("queues");
        println!(
            "  {:<32} {:>8} {:>8} {:>8}",
            "JOB", "QUEUED", "HELD", "WORKERS"
        );
    }
    for q in &status.queues {
        println!(
            "  {:<32} {:>8} {:>8} {:>8}",
            q.job, q.queued, q.held, q.workers
        );
    }
    println!("jobs");
    println!(
        "  {:<34} {:<10} {:<10} {:<18} {:>12} {:>8}",
        "ID", "JOB", "STATE", "STAGE", "TASKS", "FAILURES"
    );
    for j in &status.jobs {
        println!(
            "  {:<34} {:<10} {:<10} {:<18} {:>12} {:>8}",
            j.id,
            if j.fingerprint.is_empty() {
                &j.job
            } else {
                &j.fingerprint
            },
            j.state,
            format!("{}/{}", j.stage, j.stages),
            format!("{}/{}", j.done, j.total),
            j.failures
        );
        if !j.error.is_empty() {
            println!("    error: {}", j.error);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels a job; exit 2 when it is not running.
pub fn cancel(args: CancelArgs) -> Result<ExitCode, CliError> {
    if cancel_job(&args.coord, &args.job).map_err(cluster_error)? {
        println!("cancelled {}", args.job);
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::usage(format!("no running job '{}'", args.job)))
    }
}
