//! Bytes this process moved to and from stores, for metrics
//! (`shoal_store_bytes_read_total`, `shoal_store_bytes_written_total`).
//!
//! Process-wide atomics: a relaxed add per request is all they cost.

use std::sync::atomic::{AtomicU64, Ordering};

static READ: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Bytes read from and written to stores through [`Store`](crate::Store)
/// since this process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoTotals {
    /// Bytes read (whole objects, ranges, streamed reads).
    pub read: u64,
    /// Bytes written (puts and commits).
    pub written: u64,
}

/// The totals so far.
pub fn io_totals() -> IoTotals {
    IoTotals {
        read: READ.load(Ordering::Relaxed),
        written: WRITTEN.load(Ordering::Relaxed),
    }
}

pub(crate) fn count_read(bytes: usize) {
    READ.fetch_add(bytes as u64, Ordering::Relaxed);
}

pub(crate) fn count_written(bytes: usize) {
    WRITTEN.fetch_add(bytes as u64, Ordering::Relaxed);
}
