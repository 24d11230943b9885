//! Where the pages' data comes from: the control plane of a cluster, or
//! the progress events of one job running in this process.

use crate::metrics::MetricsSnapshot;
use crate::model::{JobDetail, Overview, WorkerDetail};
use crate::UiError;

/// What the front page (`/`) shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Front {
    /// The cluster overview: workers and jobs.
    Overview,
    /// The page of this job (an embedded run has only the one).
    Job(String),
}

/// The data behind the pages. Calls may block (they read Redis); the
/// server runs them off its async threads.
pub trait Source: Send + Sync + 'static {
    /// What `/` shows.
    fn front(&self) -> Front;
    /// Workers and jobs.
    fn overview(&self) -> Result<Overview, UiError>;
    /// One job's page, `None` when there is no such job.
    fn job(&self, id: &str) -> Result<Option<JobDetail>, UiError>;
    /// One worker's page, `None` when there is no such worker.
    fn worker(&self, name: &str) -> Result<Option<WorkerDetail>, UiError>;
    /// Cancels a running job; `false` when no such job runs.
    fn cancel(&self, id: &str) -> Result<bool, UiError>;
    /// What `/metrics` reports.
    fn metrics(&self) -> Result<MetricsSnapshot, UiError>;
}
