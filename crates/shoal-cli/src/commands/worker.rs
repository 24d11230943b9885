//! `shoal worker`: serve tasks from a cluster's control plane.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use shoal_cluster::{ClusterError, Worker, WorkerConfig};
use shoal_core::Registry;

use crate::logging::LogFormat;
use crate::signals::stop_on_signals;
use crate::{program_name, CliError};

/// Run tasks for jobs submitted with `--coord` until stopped (SIGTERM or
/// Ctrl-C finish in-flight tasks, then exit).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The `redis://` (or `rediss://`) control plane.
    #[arg(long, value_name = "URL", env = "SHOAL_COORD", hide_env_values = true)]
    pub coord: String,
    /// The store every node shares for partition files.
    #[arg(long, value_name = "URL", env = "SHOAL_STORE")]
    pub store: String,
    /// Tasks run at once (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: Option<u32>,
    /// Worker name, unique in the cluster (default: HOST-PID).
    #[arg(long)]
    pub name: Option<String>,
    /// Run `shoal map` tasks: commands named by whoever submits a job,
    /// run as this worker's user. Only with a Redis ACL user and TLS, as
    /// an unprivileged user, and where needed (README: Security).
    #[arg(long)]
    pub allow_exec: bool,
    /// Registration lifetime without heartbeats; drivers reclaim the tasks
    /// of a worker silent this long.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub heartbeat_ttl: Duration,
    /// Serve this worker's Prometheus metrics on ADDR (`GET /metrics`
    /// only, read-only), e.g. 0.0.0.0:9100 for a remote scraper.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Log lines as plain text or as one JSON object a line (for log
    /// shippers); each names the worker, and a task's lines its job,
    /// stage, partition and attempt.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Registers with the control plane and serves the jobs of `registry`
/// until signalled.
pub fn run(args: WorkerArgs, registry: &Registry) -> Result<ExitCode, CliError> {
    let config = WorkerConfig {
        coord_url: args.coord,
        store_url: args.store,
        name: args.name.unwrap_or_else(default_worker_name),
        slots: args
            .slots
            .map(|s| s as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        heartbeat_ttl: args.heartbeat_ttl,
    };
    let registry = match args.allow_exec {
        true => super::map::with_stream_job(registry),
        false => registry.clone(),
    };
    let worker = Worker::new(config.clone(), registry).map_err(worker_error)?;
    let stop = worker.stop_flag();
    stop_on_signals(&stop)?;
    let program = program_name();
    let metrics = match args.metrics {
        Some(addr) => {
            let (activity, slots) = (worker.activity(), worker.slots());
            let listener = shoal_ui::bind(addr).map_err(crate::dashboard::ui_error)?;
            let server = shoal_ui::UiServer::start_metrics(
                listener,
                Arc::new(move || shoal_ui::MetricsSnapshot::of_worker(&activity, slots)),
            )
            .map_err(crate::dashboard::ui_error)?;
            tracing::info!(worker = %config.name, "metrics at {}metrics", server.url());
            Some(server)
        }
        None => None,
    };
    tracing::info!(
        worker = %config.name,
        slots = config.slots,
        store = %config.store_url,
        jobs = %worker.offers().join(" "),
        "{program} worker {} serving",
        env!("CARGO_PKG_VERSION")
    );
    let ran = worker.run().map_err(worker_error);
    // Task directories and fetched shipped files of `map` tasks.
    shoal_stream::remove_process_root(&std::env::temp_dir());
    ran?;
    drop(metrics);
    if stop.load(Ordering::Relaxed) {
        let claimed: Vec<String> = worker
            .claimed()
            .iter()
            .map(|(job, n)| format!("{job}={n}"))
            .collect();
        tracing::info!(
            worker = %config.name,
            "stopped; tasks claimed: {}",
            claimed.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `HOST-PID`: unique among the workers of one cluster as long as host
/// names are (`$HOSTNAME`, `localhost` when unset).
pub fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{host}-{}", std::process::id())
}

/// A malformed URL or store is the user's to fix (exit 2); an unreachable
/// server is a failure (exit 1). Both are one line.
fn worker_error(err: ClusterError) -> CliError {
    match err {
        ClusterError::InvalidUrl(_) | ClusterError::Store(_) => CliError::usage(err.to_string()),
        other => CliError::Failed(anyhow::anyhow!(other)),
    }
}
