//! The built-in jobs. Every node of a cluster runs the same binary, so a
//! binary's registry is what makes a job name mean the same code
//! everywhere; custom binaries start from this one and add their own.

use std::sync::Arc;

use shoal_core::Registry;

/// Every job the stock `shoal` binary runs (`analyze`, `wordcount`,
/// `noop`, `array-sort`), embedded or as a cluster worker.
pub fn builtin_registry() -> Registry {
    Registry::new()
        .with(Arc::new(shoal_analytics::job::AnalyzeJob))
        .with(Arc::new(shoal_jobs::WordCount))
        .with(Arc::new(shoal_jobs::Noop))
        .with(Arc::new(shoal_array::AsJob(shoal_array::jobs::SortJob)))
}
