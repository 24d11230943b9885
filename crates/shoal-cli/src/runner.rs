//! Flags shared by every job command, and running a job with them.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Args;
use shoal_cluster::{ClusterConfig, ClusterExecutor};
use shoal_core::{
    run_job_as, EmbeddedConfig, EmbeddedExecutor, Executor, JobError, JobOutput, JobSpec, Registry,
};

use crate::dashboard::{RunDashboard, Tee};
use crate::progress::CliProgress;
use crate::size::parse_size;
use crate::{summary, CliError};

/// How to run a job: embedded flags (and, with `--coord`, cluster flags).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Attempts per task before the job fails.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Memory a job may hold (shuffle data and what tasks hold); beyond
    /// it, data spills to --work-dir.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,
    /// Where spill files go (default: the system temp directory); they are
    /// anonymous, so nothing is left there after a job, even a killed one.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// No progress and no run summary on stderr (errors still show).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the run's statistics (times, tasks, attempts, spilled
    /// bytes, peak memory) to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Run on a cluster: the `redis://` control plane that `shoal worker`
    /// processes listen on (default: embedded, this process only).
    #[arg(long, value_name = "URL", env = "SHOAL_COORD", hide_env_values = true)]
    pub coord: Option<String>,
    /// Store shared by every cluster node for partition files (a shared
    /// mount via a path or file://, or an object store URL).
    #[arg(long, value_name = "URL", env = "SHOAL_STORE")]
    pub store: Option<String>,
    /// On a cluster: a worker silent this long has its tasks run elsewhere.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub worker_timeout: std::time::Duration,
    /// On a cluster: how long the control plane may be unreachable (or
    /// this driver stopped) before the job fails; a job whose driver stays
    /// silent longer is given up for good and its objects swept.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub outage_timeout: std::time::Duration,
    /// On a cluster: how long the job may wait for a live worker that runs
    /// it (workers that join meanwhile pick its tasks up); without this,
    /// the job fails after the worker timeout.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait_for_workers: Option<std::time::Duration>,
    /// On a cluster: how long the job's record (for `shoal status` and
    /// `shoal ui`) stays after it ends.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub history: std::time::Duration,
    /// Serve this run's live dashboard while it runs: `--ui` on
    /// 127.0.0.1:4040 (or a free port when taken), `--ui=ADDR` elsewhere.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = crate::dashboard::DEFAULT_ADDR)]
    pub ui: Option<std::net::SocketAddr>,
    /// The token viewers of `--ui` need (first line of FILE); required when
    /// ADDR is not a loopback address.
    #[arg(long, value_name = "FILE")]
    pub ui_token_file: Option<PathBuf>,
}

impl RunArgs {
    /// The embedded executor configuration these flags describe.
    pub fn embedded_config(&self) -> EmbeddedConfig {
        let mut config = EmbeddedConfig::default();
        if let Some(threads) = self.threads {
            config.threads = threads as usize;
        }
        config.max_attempts = self.max_attempts;
        config.memory_budget = self.memory_budget;
        if let Some(dir) = &self.work_dir {
            config.work_dir = dir.clone();
        }
        config
    }

    /// The cluster configuration, when `--coord` names a Redis server.
    pub fn cluster_config(&self) -> Result<Option<ClusterConfig>, CliError> {
        let Some(coord) = self
            .coord
            .as_deref()
            .filter(|c| !c.starts_with("embedded://"))
        else {
            return Ok(None);
        };
        let Some(store) = &self.store else {
            return Err(CliError::usage(
                "--coord needs --store URL: the store every worker shares for partition files",
            ));
        };
        let mut config = ClusterConfig::new(coord, store);
        config.max_attempts = self.max_attempts;
        config.worker_timeout = self.worker_timeout;
        config.outage_timeout = self.outage_timeout;
        config.wait_for_workers = self.wait_for_workers;
        config.history = self.history;
        Ok(Some(config))
    }

    /// Runs `spec` (a job of `registry`) with progress display, embedded
    /// or on the cluster, mapping failures to exit codes; then shows the
    /// run's statistics on stderr and writes them to `--stats FILE`. The
    /// caller prints the result.
    pub fn run_job(&self, registry: &Registry, spec: JobSpec) -> Result<JobOutput, CliError> {
        self.run(registry, spec, None, None)
    }

    /// [`RunArgs::run_job`] for jobs that can stop early: setting `cancel`
    /// (say, on Ctrl-C) cancels the job — tasks see it, a cluster job is
    /// cancelled for its workers too — and the run fails as cancelled.
    /// With `id` (from [`shoal_core::new_job_id`]) the job runs under that
    /// id, for drivers that put objects under its prefix beforehand.
    pub fn run_job_with_cancel(
        &self,
        registry: &Registry,
        spec: JobSpec,
        cancel: Arc<AtomicBool>,
        id: Option<String>,
    ) -> Result<JobOutput, CliError> {
        self.run(registry, spec, Some(cancel), id)
    }

    fn run(
        &self,
        registry: &Registry,
        spec: JobSpec,
        cancel: Option<Arc<AtomicBool>>,
        id: Option<String>,
    ) -> Result<JobOutput, CliError> {
        let executor: Box<dyn Executor> = match self.cluster_config()? {
            Some(mut config) => {
                config.cancel = cancel;
                Box::new(ClusterExecutor::new(config).map_err(|e| CliError::usage(e.to_string()))?)
            }
            None => {
                let executor = EmbeddedExecutor::new(self.embedded_config());
                Box::new(match cancel {
                    Some(flag) => executor.with_cancel(flag),
                    None => executor,
                })
            }
        };
        let progress = CliProgress::new(self.quiet);
        let dashboard = match self.ui {
            Some(addr) => Some(RunDashboard::start(
                addr,
                self.ui_token_file.as_deref(),
                &spec.job,
                self.cluster_config()?.is_some(),
            )?),
            None => None,
        };
        let result = match &dashboard {
            Some(ui) => run_job_as(
                executor.as_ref(),
                registry,
                spec,
                id,
                &Tee(&progress, ui.sink()),
            ),
            None => run_job_as(executor.as_ref(), registry, spec, id, &progress),
        };
        progress.finish();
        if let Some(ui) = dashboard {
            ui.finish(&result);
        }
        let output = result.map_err(job_error)?;
        if !self.quiet {
            eprint!("{}", summary::render(&output.stats));
        }
        if let Some(path) = &self.stats {
            summary::write_json(&output.stats, path)?;
        }
        Ok(output)
    }
}

/// User-input failures exit 2 with their one line; the rest exit 1.
pub fn job_error(err: JobError) -> CliError {
    if err.is_user_input() {
        CliError::usage(err.user_message())
    } else {
        CliError::Failed(err.into())
    }
}
