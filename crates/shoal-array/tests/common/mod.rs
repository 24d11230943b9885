//! Helpers shared by the integration tests.
#![allow(dead_code)]

use proptest::prelude::*;
use shoal_array::Session;
use shoal_core::EmbeddedConfig;

/// An embedded session with `threads` threads; a `budget` of 0 bytes
/// forces every shuffle output to spill to `spill` (a temporary directory).
pub fn session(threads: usize, budget: u64, spill: &str) -> Session {
    Session::with_config(EmbeddedConfig {
        threads,
        max_attempts: 1,
        memory_budget: budget,
        work_dir: spill.into(),
    })
}

/// A plain in-memory session.
pub fn plain(threads: usize) -> Session {
    Session::with_config(EmbeddedConfig {
        threads,
        max_attempts: 1,
        ..EmbeddedConfig::default()
    })
}

/// 1 to 64 partitions of small values, empty partitions likely.
pub fn partitions<T: Clone + std::fmt::Debug>(
    value: impl Strategy<Value = T> + Clone,
    max_len: usize,
) -> impl Strategy<Value = Vec<Vec<T>>> {
    prop::collection::vec(prop::collection::vec(value, 0..max_len), 1..=64)
}

/// Thread counts to run with.
pub fn threads() -> impl Strategy<Value = usize> {
    1usize..=4
}

/// Moderate case counts keep the suite fast in debug builds.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
