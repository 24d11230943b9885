//! Byte-range splits of line-oriented text files, local or in a store.
//!
//! A split `[start, end)` owns every line whose first byte lies in that
//! range, so neighbouring splits never share or lose a line whatever the
//! boundaries — the same rule Hadoop's line reader uses. Inputs expand and
//! read like every other input ([`expand_inputs`], [`InputFile`]), so
//! `s3://bucket/logs/` works wherever a local directory does (a remote
//! split fetches its own bytes and the end of the line that straddles its
//! end). Wordcount and DistArray's text and CSV sources read through these.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{expand_inputs, InputFile, InputsError};
use serde::{Deserialize, Serialize};

/// A byte range of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSplit {
    /// The file: a path, or an object's URL.
    pub path: String,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
}

/// Expands `inputs` (files, directories, globs and store URLs, see
/// [`expand_inputs`]) and cuts every file into splits of about
/// `target_bytes`.
pub fn plan_line_splits(
    inputs: &[String],
    target_bytes: u64,
) -> Result<Vec<LineSplit>, InputsError> {
    let target = target_bytes.max(1);
    let mut splits = Vec::new();
    for file in expand_inputs(inputs)? {
        let size = InputFile::of(&file)?.size()?;
        let path = file.display().to_string();
        let mut start = 0;
        while start < size {
            let end = (start + target).min(size);
            splits.push(LineSplit {
                path: path.clone(),
                start,
                end,
            });
            start = end;
        }
    }
    Ok(splits)
}

/// Calls `line` for every line the split owns (without its `\n` or
/// `\r\n`); returns the bytes read.
pub fn read_line_split(split: &LineSplit, mut line: impl FnMut(&[u8])) -> Result<u64, InputsError> {
    let file = InputFile::of(Path::new(&split.path))?;
    let io = |e| InputsError::io(&split.path, e);
    // The line that started before us is the previous split's: start one
    // byte early and skip through the first newline at or after start - 1.
    let from = split.start.saturating_sub(1);
    let mut reader = BufReader::with_capacity(1 << 20, file.open_range(from, file.size()?)?);
    let mut buf = Vec::with_capacity(256);
    let mut pos = split.start;
    if split.start > 0 {
        pos = from + reader.read_until(b'\n', &mut buf).map_err(io)? as u64;
    }
    let mut read = 0;
    while pos < split.end {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        read += n as u64;
        let mut text = &buf[..];
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        line(text);
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_read_exactly_once_for_any_split_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = "alpha\nbe\n\ngamma delta\r\nlast line no newline";
        std::fs::write(&path, text).unwrap();
        let expected: Vec<String> = vec!["alpha", "be", "", "gamma delta", "last line no newline"]
            .into_iter()
            .map(String::from)
            .collect();
        for target in 1..=text.len() as u64 + 1 {
            let splits = plan_line_splits(&[path.display().to_string()], target).unwrap();
            let mut lines = Vec::new();
            for split in &splits {
                read_line_split(split, |l| {
                    lines.push(String::from_utf8_lossy(l).into_owned())
                })
                .unwrap();
            }
            assert_eq!(lines, expected, "target {target}");
        }
    }

    #[test]
    fn store_objects_split_like_local_files() {
        // Split boundaries inside lines: a remote split must fetch the end
        // of the line that straddles its end, and skip the one it starts in.
        let text = "first line\nsecond\r\n\nthe fourth, longer line\nno newline at the end";
        let url = format!("memory://splits-{}", std::process::id());
        let store = crate::Store::open(&url).unwrap();
        store
            .put("logs/a.txt", bytes::Bytes::from_static(text.as_bytes()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), text).unwrap();
        let lines = |input: String, target: u64| {
            let mut lines = Vec::new();
            for split in plan_line_splits(&[input], target).unwrap() {
                read_line_split(&split, |l| {
                    lines.push(String::from_utf8_lossy(l).into_owned())
                })
                .unwrap();
            }
            lines
        };
        for target in [1, 3, 7, 11, 64] {
            let local = lines(dir.path().display().to_string(), target);
            assert_eq!(local.len(), 5, "{local:?}");
            assert_eq!(
                lines(format!("{url}/logs/"), target),
                local,
                "target {target}"
            );
        }
    }

    #[test]
    fn directories_expand_sorted_and_missing_inputs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "b\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        let splits = plan_line_splits(&[dir.path().display().to_string()], 1 << 20).unwrap();
        let names: Vec<_> = splits
            .iter()
            .map(|s| s.path.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        let err = plan_line_splits(&["/no/such/file".into()], 10).unwrap_err();
        assert_eq!(err.to_string(), "/no/such/file: no such file or directory");
    }
}
