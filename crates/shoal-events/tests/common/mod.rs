//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use shoal_events::{
    plan_splits, read_split, Event, InputError, ReadOptions, Rejection, Split, SplitStats,
};

/// An owned accepted row.
pub type Row = (String, i64, String, String);

/// Everything read from some splits.
#[derive(Debug, Default, PartialEq)]
pub struct Read {
    pub rows: Vec<Row>,
    pub rejected: u64,
    pub rejects: Vec<Rejection>,
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn plan(inputs: &[&Path], opts: &ReadOptions, target: u64) -> Result<Vec<Split>, InputError> {
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    plan_splits(&inputs, opts, target)
}

/// The rows and statistics of one split.
pub fn read_one(split: &Split, opts: &ReadOptions) -> Result<(Vec<Row>, SplitStats), InputError> {
    let mut rows = Vec::new();
    let mut sink = |e: &Event<'_>| {
        rows.push((
            e.user_id.to_string(),
            e.ts_ms,
            e.event.to_string(),
            e.item.to_string(),
        ))
    };
    let stats = read_split(split, opts, &mut sink)?;
    Ok((rows, stats))
}

pub fn read_all(splits: &[Split], opts: &ReadOptions) -> Result<Read, InputError> {
    let mut out = Read::default();
    for split in splits {
        let (rows, stats) = read_one(split, opts)?;
        assert_eq!(stats.accepted as usize, rows.len());
        out.rows.extend(rows);
        out.rejected += stats.rejected;
        out.rejects.extend(stats.rejects);
    }
    Ok(out)
}

/// Plans and reads `path` with default options and one split per file.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<Read, InputError> {
    let splits = plan(&[path], opts, u64::MAX)?;
    read_all(&splits, opts)
}

pub fn row(user: &str, ts: i64, event: &str, item: &str) -> Row {
    (user.into(), ts, event.into(), item.into())
}

/// `(line, reason prefix)` of each kept rejection.
pub fn reject_lines(read: &Read) -> Vec<u64> {
    read.rejects.iter().map(|r| r.line).collect()
}
