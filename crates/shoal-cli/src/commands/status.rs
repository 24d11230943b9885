//! `shoal status` and `shoal cancel`: look at and steer a cluster.

use std::process::ExitCode;

use clap::Args;
use shoal_cluster::{cancel_job, cluster_status, ClusterError, ClusterStatus};

use crate::table::{self, Align};
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
    print_workers(&status);
    if !status.queues.is_empty() {
        println!("queues");
        print_queues(&status);
    }
    println!("jobs");
    print_jobs(&status);
    Ok(ExitCode::SUCCESS)
}

/// Each live worker with the jobs it runs (`name@version`), then the
/// workers that stopped heartbeating.
fn print_workers(status: &ClusterStatus) {
    let columns = [
        ("NAME", Align::Left),
        ("HOST", Align::Left),
        ("SLOTS", Align::Right),
        ("RUNNING", Align::Right),
        ("HEARTBEAT", Align::Right),
        ("JOBS", Align::Left),
    ];
    let rows: Vec<Vec<String>> = status
        .workers
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                w.host.clone(),
                w.slots.to_string(),
                w.running.to_string(),
                format!("{}ms", w.last_heartbeat_ms),
                w.jobs.join(" "),
            ]
        })
        .collect();
    for line in table::render(&columns, &rows) {
        println!("{line}");
    }
    for name in &status.gone {
        println!("  {name} gone (no heartbeat)");
    }
}

/// The task queue of each job fingerprint.
fn print_queues(status: &ClusterStatus) {
    let columns = [
        ("JOB", Align::Left),
        ("QUEUED", Align::Right),
        ("HELD", Align::Right),
        ("WORKERS", Align::Right),
    ];
    let rows: Vec<Vec<String>> = status
        .queues
        .iter()
        .map(|q| {
            vec![
                q.job.clone(),
                q.queued.to_string(),
                q.held.to_string(),
                q.workers.to_string(),
            ]
        })
        .collect();
    for line in table::render(&columns, &rows) {
        println!("{line}");
    }
}

/// Recent jobs, each failed one followed by its error.
fn print_jobs(status: &ClusterStatus) {
    let columns = [
        ("ID", Align::Left),
        ("JOB", Align::Left),
        ("STATE", Align::Left),
        ("STAGE", Align::Left),
        ("TASKS", Align::Right),
        ("FAILURES", Align::Right),
    ];
    let rows: Vec<Vec<String>> = status
        .jobs
        .iter()
        .map(|j| {
            let job = if j.fingerprint.is_empty() {
                &j.job
            } else {
                &j.fingerprint
            };
            vec![
                j.id.clone(),
                job.clone(),
                j.state.clone(),
                format!("{}/{}", j.stage, j.stages),
                format!("{}/{}", j.done, j.total),
                j.failures.to_string(),
            ]
        })
        .collect();
    let lines = table::render(&columns, &rows);
    println!("{}", lines[0]);
    for (line, job) in lines[1..].iter().zip(&status.jobs) {
        println!("{line}");
        if !job.error.is_empty() {
            println!("    error: {}", job.error);
        }
    }
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
