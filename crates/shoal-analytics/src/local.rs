//! The whole report computed in memory, through the same encode → shuffle
//! → per-user → merge path the distributed job uses, minus the executor.
//! For tests, and for callers with a few rows at hand.

use shoal_core::route::partition_of;

use crate::config::AnalyzeConfig;
use crate::error::DecodeError;
use crate::index::PartitionIndex;
use crate::partial::{Merger, Partial};
use crate::record::BlockEncoder;
use crate::report::Report;
use crate::walk::walk_partition;

/// One input row: `(user_id, ts_ms, event, item)` (empty item = none).
pub type RowRef<'a> = (&'a str, i64, &'a str, &'a str);

/// Computes the report of `rows` with `partitions` user partitions.
pub fn analyze_rows(
    rows: &[RowRef<'_>],
    config: &AnalyzeConfig,
    partitions: u32,
) -> Result<Report, DecodeError> {
    let partitions = partitions.max(1);
    let mut encoder = BlockEncoder::new(partitions);
    let mut blocks = vec![Vec::new(); partitions as usize];
    for &(user, ts, event, item) in rows {
        let p = partition_of(user.as_bytes(), partitions);
        let out = &mut blocks[p as usize];
        encoder.push_row(
            out,
            p,
            user.as_bytes(),
            ts,
            event.as_bytes(),
            item.as_bytes(),
        );
    }
    let mut merger = Merger::default();
    for (i, block) in blocks.iter().enumerate() {
        let index = PartitionIndex::build(std::slice::from_ref(block))?;
        let partial = walk_partition(&index, config);
        merger.add(Partial::from_bytes(&partial.to_bytes(), i)?);
    }
    Ok(merger.finish(config))
}
