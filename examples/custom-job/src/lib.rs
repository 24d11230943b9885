//! Two jobs of our own, registered beside Shoal's built-in ones:
//!
//! - [`ColumnStats`] (`column-stats`), a low-level [`shoal::Job`]: per key
//!   of one CSV column, the count, sum, min and max of a numeric column —
//!   two stages with a hash shuffle, and a `finish` on the driver;
//! - [`DistinctKeys`] (`distinct-keys`), a DistArray pipeline
//!   ([`shoal::ArrayJob`]): the distinct values of one column, sorted and
//!   saved.
//!
//! The binary (`src/main.rs`) is `shoal::main(registry())`. Every node of
//! a cluster runs this same binary, so [`registry`] is what makes the job
//! names mean this code everywhere.
#![deny(missing_docs)]

use std::sync::Arc;

use shoal::{AsJob, Registry};

pub mod column_stats;
pub mod distinct_keys;

pub use column_stats::ColumnStats;
pub use distinct_keys::DistinctKeys;

/// Shoal's built-in jobs plus ours.
pub fn registry() -> Registry {
    shoal::builtin_registry()
        .with(Arc::new(ColumnStats))
        .with(Arc::new(AsJob(DistinctKeys)))
}
