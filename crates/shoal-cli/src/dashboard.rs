//! `--ui`: the live dashboard of a job run from this command, served while
//! it runs and fed by the same progress events the bars use.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use shoal_core::{JobError, JobOutput, ProgressEvent, ProgressSink};
use shoal_ui::{bind, Access, LocalJob, UiError, UiServer};

use crate::{program_name, CliError};

/// Where `--ui` without an address listens (Spark's application UI port);
/// when it is taken, any free port.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4040";

/// A run's dashboard, up until the run ends.
pub struct RunDashboard {
    server: UiServer,
    job: Arc<LocalJob>,
}

/// A dashboard error as the command line reports it: a refused address or
/// token file is the user's to fix (exit 2).
pub fn ui_error(err: UiError) -> CliError {
    match err {
        UiError::Cluster(_) | UiError::Runtime(_) | UiError::Random(_) => {
            CliError::Failed(anyhow::anyhow!(err))
        }
        other => CliError::usage(other.to_string()),
    }
}

impl RunDashboard {
    /// Serves the page of a run of `job` on `addr` and prints its link.
    /// `on_cluster`: the tasks run on workers, so the page draws no lanes
    /// (`shoal ui` shows them).
    pub fn start(
        addr: SocketAddr,
        token_file: Option<&Path>,
        job: &str,
        on_cluster: bool,
    ) -> Result<Self, CliError> {
        let default: SocketAddr = DEFAULT_ADDR.parse().expect("a valid address");
        let listener = match bind(addr) {
            Err(UiError::Bind { .. }) if addr == default => bind(SocketAddr::new(addr.ip(), 0)),
            other => other,
        }
        .map_err(ui_error)?;
        let bound = listener
            .local_addr()
            .map_err(|e| ui_error(UiError::Runtime(e)))?;
        let access = Access::new(bound, token_file, Vec::new()).map_err(ui_error)?;
        let local = match on_cluster {
            true => LocalJob::new(job).without_lanes(),
            false => LocalJob::new(job),
        };
        let local = Arc::new(local);
        let server =
            UiServer::start(listener, access, local.clone(), "embedded").map_err(ui_error)?;
        eprintln!(
            "{}: dashboard at {}jobs/{} (while the job runs)",
            program_name(),
            server.url(),
            local.id()
        );
        Ok(RunDashboard { server, job: local })
    }

    /// The sink the run reports to (besides the bars).
    pub fn sink(&self) -> &dyn ProgressSink {
        self.job.as_ref()
    }

    /// The run ended: record how, then stop serving.
    pub fn finish(self, outcome: &Result<JobOutput, JobError>) {
        match outcome {
            Ok(_) => self.job.finish("succeeded", ""),
            Err(JobError::Cancelled { .. }) => self.job.finish("cancelled", ""),
            Err(err) => self.job.finish("failed", &err.to_string()),
        }
        let _ = self.server.stop();
    }
}

/// Sends every event to two sinks.
pub struct Tee<'a>(pub &'a dyn ProgressSink, pub &'a dyn ProgressSink);

impl ProgressSink for Tee<'_> {
    fn event(&self, event: &ProgressEvent<'_>) {
        self.0.event(event);
        self.1.event(event);
    }
}
