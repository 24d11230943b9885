//! Driver side: from the user's inputs to a list of [`Split`]s.

use crate::error::InputError;
use crate::options::ReadOptions;
use crate::split::Split;

/// Driver side, once per job: expands files, directories (every file
/// inside, sorted; names starting with `.` or `_` skipped), globs and
/// `file://` URLs; resolves formats; validates that mapped columns exist
/// (the error lists the columns found); and cuts large uncompressed
/// CSV/JSONL files into byte ranges of about `target_split_bytes` on true
/// record boundaries, Parquet files into row-group ranges.
pub fn plan_splits(
    inputs: &[String],
    opts: &ReadOptions,
    target_split_bytes: u64,
) -> Result<Vec<Split>, InputError> {
    let _ = (inputs, opts, target_split_bytes);
    unimplemented!()
}
