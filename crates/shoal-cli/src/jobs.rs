//! The job registry of this binary. Every node of a cluster runs the same
//! binary, so this one function is what makes a job name mean the same
//! code everywhere.

use std::sync::Arc;

use shoal_core::Registry;

/// Every job `shoal` can run, embedded or as a cluster worker.
pub fn registry() -> Registry {
    Registry::new()
        .with(Arc::new(shoal_analytics::job::AnalyzeJob))
        .with(Arc::new(shoal_jobs::WordCount))
        .with(Arc::new(shoal_jobs::Noop))
        .with(Arc::new(shoal_array::AsJob(shoal_array::jobs::SortJob)))
}
