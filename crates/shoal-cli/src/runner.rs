//! Flags shared by every job command, and running a job with them.

use std::path::PathBuf;

use clap::Args;
use shoal_core::{run_job, EmbeddedConfig, EmbeddedExecutor, JobError, JobOutput, JobSpec};

use crate::progress::CliProgress;
use crate::size::parse_size;
use crate::CliError;

/// How to run a job: embedded flags (and, with `--coord`, cluster flags).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Attempts per task before the job fails.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Shuffle data kept in memory; beyond it, partitions spill to disk.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,
    /// Where spilled partitions go (default: the system temp directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
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
            config.spill_url = dir.join("spill").to_string_lossy().into_owned();
        }
        config
    }

    /// Runs `spec` with progress display, mapping failures to exit codes.
    pub fn run_job(&self, spec: JobSpec) -> Result<JobOutput, CliError> {
        let registry = crate::jobs::registry();
        let progress = CliProgress::new(self.quiet);
        let executor = EmbeddedExecutor::new(self.embedded_config());
        let result = run_job(&executor, &registry, spec, &progress);
        progress.finish();
        result.map_err(job_error)
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
