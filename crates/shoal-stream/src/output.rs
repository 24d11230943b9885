//! The job's output: `part-NNNNN` files in `--out`, committed
//! first-commit-wins by the tasks, and `_SUCCESS` written last by the
//! driver.

use std::path::Path;

use shoal_core::{JobError, TaskError};
use shoal_store::Store;

use crate::JOB_NAME;

/// The empty marker written once every part is committed.
pub const SUCCESS: &str = "_SUCCESS";

/// The name of part `index`: `part-00000`, `part-00001`, …
pub fn part_name(index: u32) -> String {
    format!("part-{index:05}")
}

fn open(out: &str) -> Result<Store, JobError> {
    Store::open(out).map_err(|e| JobError::invalid_input(JOB_NAME, format!("--out {out}: {e}")))
}

/// Before anything runs: `out` must be empty, or is emptied when
/// `overwrite` says so.
pub fn prepare(out: &str, overwrite: bool) -> Result<(), JobError> {
    let store = open(out)?;
    let present = store
        .list("")
        .map_err(|e| JobError::invalid_input(JOB_NAME, format!("--out {out}: {e}")))?;
    let Some(first) = present.first() else {
        return Ok(());
    };
    if !overwrite {
        return Err(JobError::invalid_input(
            JOB_NAME,
            format!(
                "--out {out} is not empty (it holds {}{}); pass --overwrite to replace it",
                first.key,
                match present.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                }
            ),
        ));
    }
    store
        .delete_prefix("")
        .map_err(|e| JobError::invalid_input(JOB_NAME, format!("--out {out}: {e}")))
}

/// Commits the local file `file` as part `index` of `out`. Another
/// attempt's part already there wins; this one is dropped.
pub fn commit_part(out: &str, index: u32, file: &Path) -> Result<(), TaskError> {
    let store = Store::open(out)?;
    store.put_file_if_absent(&part_name(index), file)?;
    Ok(())
}

/// Writes `_SUCCESS`, after every part.
pub fn mark_success(out: &str) -> Result<(), JobError> {
    let store = Store::open(out)?;
    store.put(SUCCESS, shoal_core::Bytes::new())?;
    Ok(())
}
