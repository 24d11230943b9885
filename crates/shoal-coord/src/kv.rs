//! Value types of the versioned key-value store.
//!
//! Every write gives a key a new version, strictly greater than any version
//! the key had before — also across deletes and expiry — so a reader that
//! remembers a version can detect any change since (no ABA).

use bytes::Bytes;

/// A value with the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The stored bytes.
    pub value: Bytes,
    /// The version of this write (never 0; 0 means "absent" in transactions
    /// and compare-and-set).
    pub version: u64,
}

/// The answer of [`crate::Coordinator::compare_and_set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The expectation held and the write was applied; the new version, or
    /// `None` if the write was a delete.
    Applied(Option<u64>),
    /// The key had another version (`None` = absent); nothing was written.
    Mismatch(Option<u64>),
}

impl CasOutcome {
    /// Whether the write was applied.
    pub fn is_applied(&self) -> bool {
        matches!(self, CasOutcome::Applied(_))
    }
}
